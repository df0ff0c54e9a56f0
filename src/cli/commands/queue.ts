import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { withAccounts, print } from '../context.js';
import { RelayQueueAdmin } from '../../service/index.js';

async function withQueue<T>(cmd: Command, fn: (q: RelayQueueAdmin) => Promise<T>): Promise<T> {
  return withAccounts(cmd, (_accounts, store) => fn(new RelayQueueAdmin(store.db, store.blobs)));
}

function wholeNumber(what: string) {
  return (v: string): number => {
    const s = v.replace(/^#/, '');
    if (!/^\d{1,15}$/.test(s)) throw new InvalidArgumentError(`${what} must be a whole number`);
    return Number(s);
  };
}
const entryId = wholeNumber('the queue entry id');

const iso = (ms: number) => new Date(ms).toISOString();

export function registerQueue(program: Command): void {
  const queue = program
    .command('queue')
    .description('the relay queue: mail accepted for other providers that is waiting to be sent (one entry per recipient)');
  queue.addHelpText(
    'after',
    `
An entry waits for its next attempt (state waiting) or is being sent by a node (state sending).
Entries are removed once delivered, or once refused or given up (service.relay.retry.maxAgeMs), when
the sender gets a DSN in their mailbox.

Examples:
  postamt queue list
  postamt queue list --domain praxis-b.example --json
  postamt queue retry            every waiting entry is due now
  postamt queue retry 42
  postamt queue delete 42        dropped: not delivered, no DSN`,
  );

  queue
    .command('list')
    .description('list queued recipients, oldest first')
    .option('--domain <domain>', 'only recipients in this domain')
    .option('--limit <n>', 'at most this many (max 1000)', wholeNumber('--limit'), 100)
    .option('--json', 'print JSON')
    .action(async (o: { domain?: string; limit: number; json?: boolean }, cmd: Command) => {
      await withQueue(cmd, async (q) => {
        const rows = await q.list({ ...(o.domain ? { domain: o.domain } : {}), limit: o.limit });
        if (o.json) return print(JSON.stringify(rows, null, 2));
        // Said on stderr, so a script reading the list gets nothing for nothing.
        if (rows.length === 0) process.stderr.write(`the relay queue is empty${o.domain ? ` for ${o.domain}` : ''}\n`);
        for (const r of rows) {
          const when = r.state === 'sending' ? `until=${iso(r.leaseUntil!)}` : `next=${iso(r.nextAttemptAt)}`;
          print(`#${r.id}\t${r.queueId}\t${r.state}\tattempts=${r.attempts}\t${when}\t${r.sender} -> ${r.recipient}\t${r.size}B${r.lastError ? `\t${r.lastError}` : ''}`);
        }
      });
    });
  queue
    .command('retry')
    .argument('[id]', 'the entry (as listed: 42 or #42); none: every waiting entry', entryId)
    .description('make one waiting entry (or all of them) due now')
    .action(async (n: number | undefined, _o, cmd: Command) => {
      await withQueue(cmd, async (q) => {
        const due = await q.retry(n);
        print(`${due} entr${due === 1 ? 'y' : 'ies'} due now; a running service sends ${due === 1 ? 'it' : 'them'} within service.relay.worker.pollIntervalMs`);
      });
    });
  queue
    .command('delete')
    .argument('<id>', 'the entry (as listed: 42 or #42)', entryId)
    .description('drop an entry: it is not delivered and the sender gets no DSN')
    .action(async (n: number, _o, cmd: Command) => {
      await withQueue(cmd, async (q) => {
        await q.remove(n);
        print(`deleted queue entry #${n}`);
      });
    });
}
