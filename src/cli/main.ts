import { Command, CommanderError } from 'commander';
import { PostamtError, postamtVersion } from '../core/index.js';
import { registerStart } from './commands/start.js';
import { registerConfig } from './commands/config.js';
import { registerDomain } from './commands/domain.js';
import { registerAccount } from './commands/account.js';
import { registerStore } from './commands/store.js';
import { registerPki } from './commands/pki.js';
import { registerDirectory } from './commands/directory.js';
import { registerMessage } from './commands/message.js';
import { registerIntegration } from './commands/integration.js';
import { registerMailin } from './commands/mailin.js';
import { registerQueue } from './commands/queue.js';
import { registerKonnektor } from './commands/konnektor.js';
import { registerKonnektorSim } from './commands/konnektor-sim.js';

/** Exit codes: 0 done, 1 the command failed, 2 it was used wrongly (as UsageError or a parse error). */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export function buildProgram(): Command {
  const program = new Command('postamt')
    .description('Postamt: KOM-LE/KIM secure messaging platform (mail service, directory, client module)')
    .version(postamtVersion(), '-V, --version', 'print the version')
    .option('-c, --config <file>', 'config file (default: ./postamt.yaml if present, or $POSTAMT_CONFIG)')
    .showHelpAfterError()
    // Commander throws instead of exiting (subcommands inherit this), so main() picks the exit code.
    .exitOverride();
  registerStart(program);
  registerConfig(program);
  registerDomain(program);
  registerAccount(program);
  registerStore(program);
  registerPki(program);
  registerDirectory(program);
  registerMessage(program);
  registerKonnektor(program);
  registerIntegration(program);
  registerMailin(program);
  registerQueue(program);
  registerKonnektorSim(program);
  program.addHelpText(
    'after',
    `
Environment:
  POSTAMT_CONFIG        config file
  POSTAMT_DATA_DIR      data directory (overrides dataDir)
  POSTAMT_DATABASE_URL  database URL, e.g. postgres://user:secret@host/db (overrides database.url)
  POSTAMT_SECRET_KEY    key sealing the secrets stored in the database (overrides database.secretKey)
  POSTAMT_LOG_LEVEL     log level
  POSTAMT_TLS_CERT, POSTAMT_TLS_KEY  TLS certificate and key (PEM files)
  POSTAMT_INTEGRATION_PASSWORD  password of the Application Integration endpoint

Examples:
  postamt start                                  run the demo on loopback
  postamt domain add praxis.example
  postamt account add anna@praxis.example --name "Dr. Anna Muster" --quota 2G
  postamt config check -c /etc/postamt/postamt.yaml
  postamt directory import vzd.ldif              load directory entries (all or nothing)
  postamt directory cert add 1-20014711 enc.pem  publish an encryption certificate
  postamt message seal brief.eml --from-identity data/pki/praxis-a --to-cert data/pki/praxis-b/enc.pem --out sealed.eml
  echo -n "$PW" | postamt integration test --source users --user anna --password-stdin
  postamt message open sealed.eml --key data/pki/praxis-b/enc.key --trust data/pki/ca.pem
  postamt mailin add approvals@praxis.example --name "OA approvals"   a mail-in database (see postamt mailin --help)
  postamt queue list                             mail waiting to be relayed to other providers`,
  );
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its message. --help and --version exit 0; everything else it
      // raises (unknown option or command, missing or invalid argument, a command group without
      // its subcommand) is a usage error.
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    if (err instanceof PostamtError) {
      process.stderr.write(`postamt: ${err.message}\n`);
      process.exitCode = err.code === 'usage' ? EXIT_USAGE : EXIT_FAILURE;
      return;
    }
    throw err;
  }
}
