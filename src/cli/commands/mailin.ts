import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { withAccounts, print } from '../context.js';
import { MailinAdmin } from '../../mailin/index.js';
import type { Config } from '../../config/index.js';
import type { HostPort } from '../../core/index.js';

/**
 * The listeners the configuration gives the roles (fixed ports only): the running platform's
 * own listeners, which a webhook added here may not point at.
 */
function configuredListeners(config: Config): HostPort[] {
  const s = config.service;
  const all = [s.smtp.mx, s.smtp.submission, s.pop3.starttls, s.pop3.implicit, s.http, config.directory.ldap.starttls, config.directory.ldap.implicit, config.clientModule.smtp.starttls, config.clientModule.smtp.implicit, config.clientModule.pop3.starttls, config.clientModule.pop3.implicit];
  return all.filter((l) => l.enabled && l.port !== 0).map((l) => ({ host: l.host, port: l.port }));
}

async function withMailin<T>(cmd: Command, fn: (m: MailinAdmin) => Promise<T>): Promise<T> {
  return withAccounts(cmd, (accounts, store, config) => fn(new MailinAdmin(store.db, store.blobs, store.secrets, accounts, config.mailin, configuredListeners(config))));
}

function int(what: string) {
  return (v: string): number => {
    if (!/^\d{1,15}$/.test(v)) throw new InvalidArgumentError(`${what} must be a whole number`);
    return Number(v);
  };
}

function json(rows: unknown): void {
  print(JSON.stringify(rows, null, 2));
}

export function registerMailin(program: Command): void {
  const mailin = program
    .command('mailin')
    .description('mail-in databases: addresses whose mail becomes documents and triggers agents (webhooks, scripts)');
  mailin.addHelpText(
    'after',
    `
Examples:
  postamt mailin add approvals@praxis.example --name "OA approvals"
  postamt mailin agent add approvals@praxis.example --trigger before-delivery \\
      --webhook https://erp.praxis.example/hooks/approval --secret "$SECRET" --timeout-ms 10000
  postamt mailin agent add approvals@praxis.example --trigger after-delivery --script /etc/postamt/agents/notify.mjs
  postamt mailin documents approvals@praxis.example --since 2025-01-31T00:00:00Z
  postamt mailin jobs --dead
  postamt mailin retry 42
  postamt mailin runs --db approvals@praxis.example`,
  );

  mailin
    .command('add <address>')
    .description('add a mail-in database (the address must be in a local domain and not an account)')
    .requiredOption('--name <name>', 'the database name')
    .option('--description <text>', 'what it is for', '')
    .action(async (address: string, o: { name: string; description: string }, cmd: Command) => {
      await withMailin(cmd, async (m) => {
        const d = await m.addDatabase({ address, name: o.name, description: o.description });
        print(`added mail-in database ${String(d.address)}`);
      });
    });
  mailin
    .command('list')
    .description('list mail-in databases')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withMailin(cmd, async (m) => {
        const rows = await m.listDatabases();
        if (o.json) return json(rows);
        for (const r of rows) print(`${String(r.address)}\t${String(r.name)}\t${String(r.description)}`);
      });
    });
  mailin
    .command('rm <address>')
    .description('remove a mail-in database with its documents, agents, jobs and run history')
    .action(async (address: string, _o, cmd: Command) => {
      await withMailin(cmd, async (m) => {
        const r = await m.removeDatabase(address);
        print(`removed mail-in database ${address.toLowerCase()} (${r.documents} document(s))`);
      });
    });
  mailin
    .command('documents <address>')
    .description('list documents, oldest first')
    .option('--since <time>', 'received at or after (ISO 8601 or epoch ms)')
    .option('--after <cursor>', 'continue after this cursor (printed as "next")')
    .option('--limit <n>', 'documents per page (max 500)', int('--limit'), 100)
    .option('--json', 'print JSON (with text and attachments)')
    .action(async (address: string, o: { since?: string; after?: string; limit: number; json?: boolean }, cmd: Command) => {
      await withMailin(cmd, async (m) => {
        const page = await m.documents(address, { ...(o.since ? { since: o.since } : {}), ...(o.after ? { after: o.after } : {}), limit: o.limit });
        if (o.json) return json(page);
        for (const d of page.items) print(`${String(d.id)}\t${String(d.receivedAt)}\t${String(d.from)}\t${String(d.subject)}${d.folder ? `\tfolder=${String(d.folder)}` : ''}`);
        if (page.next) print(`next: ${page.next}`);
      });
    });

  const agent = mailin.command('agent').description('agents of a mail-in database');
  agent
    .command('add <address>')
    .description('add an agent: a webhook (--webhook URL --secret S) or a script (--script FILE)')
    .requiredOption('--trigger <trigger>', 'before-delivery (at most one per database; runs before the mail is committed) or after-delivery (queued, retried)')
    .option('--webhook <url>', 'POST the document as signed JSON to this http(s) URL')
    .option('--secret <secret>', `HMAC-SHA256 key for the X-Postamt-Signature header (at least 16 characters)`)
    .option('--script <file>', 'a JavaScript module whose default export (doc, api) runs in a worker thread')
    .option('--name <name>', 'a name for lists and logs')
    .option('--timeout-ms <ms>', 'time limit of one run (default mailin.defaultTimeoutMs, 30000)', int('--timeout-ms'))
    .option('--on-failure <policy>', 'before-delivery only: tempfail (default; the sender retries) or accept (file unseen)')
    .option('--include-raw', 'also send the raw message (base64) to the agent')
    .action(
      async (
        address: string,
        o: { trigger: string; webhook?: string; secret?: string; script?: string; name?: string; timeoutMs?: number; onFailure?: string; includeRaw?: boolean },
        cmd: Command,
      ) => {
        await withMailin(cmd, async (m) => {
          const a = await m.addAgent(address, {
            trigger: o.trigger,
            ...(o.webhook !== undefined ? { webhook: o.webhook } : {}),
            ...(o.secret !== undefined ? { secret: o.secret } : {}),
            ...(o.script !== undefined ? { script: o.script } : {}),
            ...(o.name !== undefined ? { name: o.name } : {}),
            ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
            ...(o.onFailure !== undefined ? { onFailure: o.onFailure } : {}),
            ...(o.includeRaw ? { includeRaw: true } : {}),
          });
          print(`added ${String(a.trigger)} ${String(a.kind)} agent #${String(a.id)} to ${String(a.database)}`);
        });
      },
    );
  agent
    .command('list [address]')
    .description('list agents (of one database, or all); secrets are never shown')
    .option('--json', 'print JSON')
    .action(async (address: string | undefined, o: { json?: boolean }, cmd: Command) => {
      await withMailin(cmd, async (m) => {
        const rows = await m.listAgents(address);
        if (o.json) return json(rows);
        for (const a of rows) print(`#${String(a.id)}\t${String(a.database)}\t${String(a.trigger)}\t${String(a.kind)}\t${String(a.url ?? a.script)}\ttimeout=${String(a.timeoutMs)}ms${a.onFailure ? ` on-failure=${String(a.onFailure)}` : ''}`);
      });
    });
  agent
    .command('rm <id>')
    .description('remove an agent (its queued jobs go with it)')
    .action(async (id: string, _o, cmd: Command) => {
      const n = int('agent id')(id.replace(/^#/, ''));
      await withMailin(cmd, async (m) => {
        await m.removeAgent(n);
        print(`removed agent #${n}`);
      });
    });

  mailin
    .command('jobs')
    .description('after-delivery jobs that are waiting, running or dead (not the finished ones)')
    .option('--dead', 'only jobs that were given up')
    .option('--state <state>', 'queued, running, done or dead')
    .option('--db <address>', 'only this database')
    .option('--limit <n>', 'at most this many (max 500)', int('--limit'), 100)
    .option('--json', 'print JSON')
    .action(async (o: { dead?: boolean; state?: string; db?: string; limit: number; json?: boolean }, cmd: Command) => {
      await withMailin(cmd, async (m) => {
        const state = o.dead ? 'dead' : o.state;
        const rows = await m.jobs({ ...(state ? { state } : {}), ...(o.db ? { address: o.db } : {}), limit: o.limit });
        if (o.json) return json(rows);
        for (const j of rows) {
          const when = j.state === 'queued' ? ` next=${String(j.nextRunAt)}` : '';
          print(`#${String(j.id)}\t${String(j.state)}\tattempts=${String(j.attempts)}${when}\tagent=#${String(j.agent)}\t${String(j.database)}\t${String(j.document)}${j.lastError ? `\t${String(j.lastError)}` : ''}`);
        }
      });
    });
  mailin
    .command('retry <job>')
    .description('run a dead (or waiting) job again now, with a fresh series of attempts')
    .action(async (job: string, _o, cmd: Command) => {
      const n = int('job id')(job.replace(/^#/, ''));
      await withMailin(cmd, async (m) => {
        await m.retryJob(n);
        print(`job #${n} queued; a running service picks it up within mailin.worker.pollIntervalMs`);
      });
    });
  mailin
    .command('runs')
    .description('agent run history, newest first')
    .option('--db <address>', 'only this database')
    .option('--agent <id>', 'only this agent', int('--agent'))
    .option('--after <cursor>', 'continue after this cursor (printed as "next")')
    .option('--limit <n>', 'at most this many (max 500)', int('--limit'), 50)
    .option('--json', 'print JSON')
    .action(async (o: { db?: string; agent?: number; after?: string; limit: number; json?: boolean }, cmd: Command) => {
      await withMailin(cmd, async (m) => {
        const page = await m.runs({ ...(o.db ? { address: o.db } : {}), ...(o.agent !== undefined ? { agent: o.agent } : {}), ...(o.after ? { after: o.after } : {}), limit: o.limit });
        if (o.json) return json(page);
        for (const r of page.items) {
          print(
            `${String(r.startedAt)}\t#${String(r.agent)}\t${String(r.trigger)}\tattempt=${String(r.attempt)}\t${String(r.outcome)}${r.httpStatus !== null ? `\thttp=${String(r.httpStatus)}` : ''}\t${String(r.durationMs)}ms\t${String(r.document)}${r.error ? `\t${String(r.error)}` : ''}`,
          );
        }
        if (page.next) print(`next: ${page.next}`);
      });
    });
}
