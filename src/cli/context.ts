import type { Command } from 'commander';
import { loadConfig, type Config, type LoadedConfig } from '../config/index.js';
import { createLogger, type Logger } from '../core/index.js';
import { openStore, type Store } from '../store/index.js';
import { Accounts } from '../service/index.js';
import { Directory, DirectoryAccountFeed, directoryOptions } from '../directory/index.js';

/** The global options every command sees. */
export interface GlobalOptions {
  config?: string;
}

export function globalOptions(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

export function configFor(cmd: Command): LoadedConfig {
  return loadConfig(globalOptions(cmd).config);
}

/** The logger of a long-running command (start, serve); the config's deprecation warnings are its first lines. */
export function serverLogger({ config, warnings }: LoadedConfig): Logger {
  const logger = createLogger(config.log.level, 'async-stdout');
  for (const w of warnings) logger.warn(w);
  return logger;
}

/** Admin commands log only warnings to stderr, so their stdout stays clean for scripts. */
export function cliLogger(config: Config): Logger {
  return createLogger(config.log.level === 'silent' ? 'silent' : 'warn', process.stderr);
}

/** Opens the store for an admin command, runs `fn`, and always closes it. */
export async function withAccounts<T>(cmd: Command, fn: (accounts: Accounts, store: Store, config: Config) => Promise<T>): Promise<T> {
  const { config } = configFor(cmd);
  const store = await openStore(config);
  try {
    const accounts = new Accounts(store.db, store.blobs);
    // Account changes keep the directory's mail/komLeData in step, from the CLI as from the service.
    accounts.onChange(new DirectoryAccountFeed(new Directory(store, directoryOptions(config.directory))));
    return await fn(accounts, store, config);
  } finally {
    await store.close();
  }
}

/** Reads a whole secret from standard input (for --password-stdin), without the final newline. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export function print(line: string): void {
  process.stdout.write(line + '\n');
}
