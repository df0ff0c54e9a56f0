import type { Command } from 'commander';
import { configFor, print, readStdin } from '../context.js';
import { openStore } from '../../store/index.js';
import { Accounts } from '../../service/index.js';
import { createUserSource, FileSource } from '../../integration/index.js';
import { UsageError } from '../../core/index.js';

interface TestOptions {
  source: string;
  user?: string;
  passwordStdin?: boolean;
  limit: string;
  json?: boolean;
}

export function registerIntegration(program: Command): void {
  const integration = program.command('integration').description('the Application Integration endpoint (MailStore) and its user sources');
  integration
    .command('sources')
    .description('list the configured user sources in the order they are asked')
    .action((_o, cmd: Command) => {
      const { config } = configFor(cmd);
      const sorted = config.integration.sources.map((s, i) => ({ s, i })).sort((a, b) => a.s.priority - b.s.priority || a.i - b.i);
      for (const { s } of sorted) print(`${s.name}  type=${s.type}  priority=${s.priority}${config.integration.authSource === s.name ? '  (authSource)' : ''}`);
    });
  integration
    .command('test')
    .description('list a source\'s users and, with --user, try an authentication (exit 1 when it does not succeed)')
    .requiredOption('--source <name>', 'the source, by its name in integration.sources')
    .option('--user <name>', 'try to authenticate this user')
    .option('--password-stdin', 'read the password for --user from standard input')
    .option('--limit <n>', 'users to print (all are counted)', '10')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  echo -n "$PW" | postamt integration test --source users --user john.doe --password-stdin')
    .action(async (o: TestOptions, cmd: Command) => {
      const { config } = configFor(cmd);
      const sc = config.integration.sources.find((s) => s.name === o.source);
      if (!sc) throw new UsageError(`no source named ${o.source} (have: ${config.integration.sources.map((s) => s.name).join(', ') || 'none'})`);
      if (o.user && !o.passwordStdin) throw new UsageError('--user needs --password-stdin (passwords are never taken as arguments)');
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 0) throw new UsageError('--limit must be a whole number');
      const password = o.user ? await readStdin() : undefined;
      const store = await openStore(config);
      const source = createUserSource(config, sc, { accounts: new Accounts(store.db, store.blobs) });
      try {
        const started = performance.now();
        const shown = [];
        let count = 0;
        for await (const u of source.list()) {
          if (count < limit) shown.push(u);
          count++;
        }
        const ms = Math.round(performance.now() - started);
        let auth: boolean | null | undefined;
        if (o.user) auth = await source.authenticate(o.user, password!);
        const problems = source instanceof FileSource ? [...source.problems] : [];
        if (o.json) {
          print(JSON.stringify({ source: sc.name, type: sc.type, users: count, ms, first: shown, problems, ...(o.user ? { user: o.user, authenticated: auth } : {}) }));
        } else {
          print(`source ${sc.name} (${sc.type}): ${count} user(s) listed in ${ms} ms`);
          for (const u of shown) print(`  ${u.userName}${u.fullName ? `  "${u.fullName}"` : ''}${u.emailAddresses?.length ? `  <${u.emailAddresses.join(', ')}>` : ''}`);
          if (count > shown.length) print(`  … and ${count - shown.length} more`);
          for (const p of problems) print(`  skipped: ${p}`);
          if (o.user) print(`auth ${o.user}: ${auth === true ? 'succeeded' : auth === false ? 'failed' : 'unknown user'}`);
        }
        if (o.user && auth !== true) process.exitCode = 1;
      } finally {
        await source.close?.();
        await store.close();
      }
    });
}
