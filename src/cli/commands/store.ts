import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { withAccounts, print } from '../context.js';
import { collectGarbageBlobs } from '../../store/index.js';

function parseMinutes(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number of minutes');
  return n * 60_000;
}

export function registerStore(program: Command): void {
  const store = program.command('store').description('storage housekeeping');
  store
    .command('gc')
    .description('remove message blobs and temp files nothing refers to (no mailbox, mail-in document or relay queue entry; left by interrupted deliveries)')
    .option('--grace <minutes>', 'only remove leftovers older than this', parseMinutes, 60 * 60_000)
    .action(async (o: { grace: number }, cmd: Command) => {
      await withAccounts(cmd, async (_a, s) => {
        const temp = (await s.blobs.sweepTemp?.(o.grace)) ?? 0;
        const r = await collectGarbageBlobs(s.db, s.blobs, o.grace);
        print(`examined ${r.examined} blobs, removed ${r.deleted} unreferenced blobs and ${temp} temp files`);
      });
    });
}
