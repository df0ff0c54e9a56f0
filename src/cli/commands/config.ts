import type { Command } from 'commander';
import { configFor, print } from '../context.js';
import { ENV_OVERRIDES, clientModuleWarnings } from '../../config/index.js';
import { dataPaths, findExposedPaths, redactUrl } from '../../store/index.js';

export function registerConfig(program: Command): void {
  const config = program.command('config').description('inspect the configuration');
  config
    .command('check')
    .description('validate the config file, print the effective settings (secrets redacted) and check that the data directory is private (exit 1 if not)')
    .option('--json', 'print the effective configuration as JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const { config: c, file, warnings } = configFor(cmd);
      // On stderr, so that --json stays one JSON document; the file is valid all the same.
      for (const w of [...warnings, ...clientModuleWarnings(c)]) process.stderr.write(`warning: ${w}\n`);
      const shown = { ...c, database: { ...c.database, url: redactUrl(c.database.url), ...(c.database.secretKey ? { secretKey: '***' } : {}) } };
      // Every open path at once, on stderr: an operator fixing them wants the whole list.
      const exposed = findExposedPaths(dataPaths(c));
      for (const e of exposed) process.stderr.write(`error: ${e.path} is open to group/others (mode ${e.mode.toString(8).padStart(4, '0')}): the service makes it private at start, or chmod go= it\n`);
      if (exposed.length > 0) process.exitCode = 1;
      if (o.json) return print(JSON.stringify(shown, null, 2));
      print(`config ${file ?? '(no file: defaults)'} is valid`);
      print(`data directory: ${c.dataDir}`);
      print(`database: ${shown.database.url}`);
      const l = c.service;
      print(`smtp mx:         ${l.smtp.mx.enabled ? `${l.smtp.mx.host}:${l.smtp.mx.port} (STARTTLS)` : 'disabled'}`);
      print(`smtp submission: ${l.smtp.submission.enabled ? `${l.smtp.submission.host}:${l.smtp.submission.port} (implicit TLS)` : 'disabled'}`);
      print(`pop3:            ${l.pop3.starttls.enabled ? `${l.pop3.starttls.host}:${l.pop3.starttls.port} (STLS)` : 'disabled'}`);
      print(`pop3s:           ${l.pop3.implicit.enabled ? `${l.pop3.implicit.host}:${l.pop3.implicit.port} (implicit TLS)` : 'disabled'}`);
      print(`http:            ${l.http.enabled ? `${l.http.host}:${l.http.port}` : 'disabled'}`);
      const used = ENV_OVERRIDES.filter((e) => process.env[e.env]);
      if (used.length) print(`environment overrides: ${used.map((e) => e.env).join(', ')}`);
      print(exposed.length === 0 ? 'data directory is private to this user' : `data directory: ${exposed.length} path(s) open to group/others (listed above)`);
    });
}
