import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { withAccounts, print } from '../context.js';
import { UsageError } from '../../core/index.js';
import { GroupCommit } from '../../store/index.js';
import { MessageTrace, type TraceDetail, type TraceQuery } from '../../service/index.js';

function time(v: string): number {
  const ms = /^\d{1,15}$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw new InvalidArgumentError('expected an ISO 8601 time (2026-12-07T10:00:00Z), a date or epoch milliseconds');
  return ms;
}

function limit(v: string): number {
  if (!/^\d{1,3}$/.test(v) || Number(v) < 1 || Number(v) > 500) throw new InvalidArgumentError('expected a whole number from 1 to 500');
  return Number(v);
}

/** One event as a line: its time, kind, node and the facts that matter most. */
function eventLine(e: TraceDetail['events'][number]): string {
  const d = e.detail;
  const facts = Object.entries(d)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v)}`)
    .join(' ');
  return `  ${e.at}  ${e.kind.padEnd(13)} [${e.node}] ${facts}`;
}

interface TraceOptions {
  messageId?: boolean;
  address?: boolean;
  from?: number;
  to?: number;
  limit: number;
  json?: boolean;
}

/** `postamt message trace`: the message trace from the store, as /api/trace shows it (docs/trace.md). */
export function registerMessageTrace(message: Command): void {
  message
    .command('trace')
    .description('the way of a message through the service: accepted, stored, delivered, relayed (each attempt), fetched, DSNs (docs/trace.md)')
    .argument('<message-id|address>', 'a Message-ID (with or without <>) or a mail address (sender or recipient)')
    .option('--message-id', 'take the argument as a Message-ID only')
    .option('--address', 'take the argument as an address only')
    .option('--from <time>', 'only messages received at or after this time (ISO 8601, a date, or epoch ms)', time)
    .option('--to <time>', 'only messages received before this time', time)
    .option('--limit <n>', 'at most this many messages, newest first (1-500)', limit, 20)
    .option('--json', 'print JSON: an array of messages, each with its events')
    .addHelpText(
      'after',
      `
Without --message-id or --address the argument is looked up as a Message-ID first and, when no
message has it, as an address. Each message is printed with its events in order. The trace keeps
no bodies and no Subject (of the header only the Message-ID): a KOM-LE message appears as what the
service stored, ciphertext. Traces are kept for service.trace.retentionDays (default 30).

Exit status: 0 when messages were found, 1 when none were, 2 for usage errors.

Examples:
  postamt message trace '<4711@praxis-a.example>'
  postamt message trace arzt@praxis-b.example --from 2026-12-01 --limit 5
  postamt message trace arzt@praxis-b.example --address --json`,
    )
    .action(async (arg: string, o: TraceOptions, cmd: Command) => {
      if (o.messageId && o.address) throw new UsageError('--message-id and --address exclude each other');
      if (o.from !== undefined && o.to !== undefined && o.from >= o.to) throw new UsageError('--from must be before --to');
      const found = await withAccounts(cmd, async (_accounts, store, config) => {
        const trace = new MessageTrace(store.db, new GroupCommit(store.db), { retentionDays: config.service.trace.retentionDays });
        const base: TraceQuery = { limit: o.limit, ...(o.from !== undefined ? { from: o.from } : {}), ...(o.to !== undefined ? { to: o.to } : {}) };
        let page = o.address ? { items: [] } : await trace.list({ ...base, messageId: arg });
        if (page.items.length === 0 && !o.messageId && arg.includes('@')) page = await trace.list({ ...base, address: arg });
        return Promise.all(page.items.map((m) => trace.get(m.id)));
      });
      if (o.json) print(JSON.stringify(found, null, 2));
      else {
        if (found.length === 0) process.stderr.write(`no traced message for ${arg}\n`);
        for (const m of found) {
          print(
            `${m.id}  ${m.receivedAt}  ${m.status}  ${m.messageId ? `<${m.messageId}>` : '(no Message-ID)'}  ${m.mailFrom || '<>'} -> ${m.recipientAddresses.join(', ')}` +
              `${m.size !== null ? `  ${m.size} B` : ''}${m.komle ? '  KOM-LE' : ''}`,
          );
          for (const e of m.events) print(eventLine(e));
        }
      }
      if (found.length === 0) process.exitCode = 1;
    });
}
