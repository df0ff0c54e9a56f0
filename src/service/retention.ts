import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/index.js';
import type { Logger, Metrics } from '../core/index.js';
import { errorMessage } from '../core/index.js';
import { DATA_TTL_DAYS_MIN } from './accounts.js';
import type { Mailboxes } from './mailboxes.js';
import type { MessageTrace } from './trace.js';

const DAY_MS = 86_400_000;

export interface RetentionOptions {
  /** dataTimeToLive for accounts without their own (service.kim.defaults.dataTimeToLiveDays). */
  defaultDays: number;
  /** Messages deleted per transaction. */
  batchSize: number;
  logger: Logger;
  metrics?: Metrics;
  /** The message trace, when on: each deleted message gets an "expunged" event. */
  trace?: MessageTrace | undefined;
  /** The clock (tests move it; default Date.now). */
  now?: () => number;
  /**
   * Accounts deregistered through the Account Manager whose deregDate has passed are deleted
   * in the same run (A_19464-03); absent: none are.
   */
  deregistered?: { deleteDeregistered(nowSeconds?: number): Promise<string[]> };
}

export interface RetentionRun {
  deleted: number;
  batches: number;
  accounts: number;
  /** Accounts deleted after their deregistration date. */
  deregistered: number;
}

/**
 * The Fachdienst's retention rule (AccountLimit.yaml dataTimeToLive: "Storage duration of
 * emails on the mail server"): messages received longer ago than their account's
 * dataTimeToLive are deleted, batch after batch, each batch per account through
 * Mailboxes.expunge (rows, used_bytes and unreferenced blobs, as a POP3 expunge). A POP3
 * session holding a deleted message in its snapshot answers -ERR for it, as for one another
 * session expunged. Several nodes may run it at once: a row is deleted once, whoever wins.
 */
export class Retention {
  private readonly now: () => number;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly mailboxes: Mailboxes,
    private readonly opts: RetentionOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Deletes every expired message; returns the counts (also logged and counted in /metrics). */
  async run(): Promise<RetentionRun> {
    const started = this.now();
    const touched = new Set<number>();
    let deleted = 0;
    let batches = 0;
    let after = 0;
    for (;;) {
      const batch = await this.expired(started, after);
      if (batch.length === 0) break;
      batches++;
      after = batch[batch.length - 1]!.id;
      const byAccount = new Map<number, { address: string; ids: number[] }>();
      for (const r of batch) {
        let a = byAccount.get(r.account_id);
        if (!a) byAccount.set(r.account_id, (a = { address: r.address, ids: [] }));
        a.ids.push(r.id);
      }
      for (const [accountId, a] of byAccount) {
        const trace = this.opts.trace;
        const n = await this.mailboxes.expunge(accountId, a.ids);
        trace?.mailboxEvents('expunged', a.address, a.ids);
        deleted += n;
        touched.add(accountId);
        if (n) this.opts.metrics?.inc('postamt_retention_deleted_total', {}, n, 'messages deleted by the retention job (past their dataTimeToLive)');
      }
      if (batch.length < this.opts.batchSize) break;
    }
    this.opts.metrics?.inc('postamt_retention_runs_total', {}, 1, 'runs of the retention job');
    const gone = (await this.opts.deregistered?.deleteDeregistered(Math.floor(started / 1000))) ?? [];
    if (gone.length) {
      this.opts.metrics?.inc('postamt_kim_deregistered_deleted_total', {}, gone.length, 'accounts deleted after their Account Manager deregistration date');
      this.opts.logger.info({ accounts: gone.length }, 'retention: deleted accounts past their deregistration date');
    }
    const result = { deleted, batches, accounts: touched.size, deregistered: gone.length };
    if (deleted > 0) this.opts.logger.info({ ...result, ms: this.now() - started }, 'retention: deleted messages past their dataTimeToLive');
    return result;
  }

  /**
   * The next batch of expired messages after id `after`, oldest ids first. The first condition
   * is the cutoff of the shortest TTL KIM allows, so the received_at index narrows the search
   * whatever each account's own TTL; the second is each account's own.
   */
  private expired(now: number, after: number) {
    return this.db
      .selectFrom('messages')
      .innerJoin('accounts', 'accounts.id', 'messages.account_id')
      .select(['messages.id', 'messages.account_id', 'accounts.address'])
      .where('messages.received_at', '<', now - DATA_TTL_DAYS_MIN * DAY_MS)
      .where('messages.id', '>', after)
      // The casts: PostgreSQL would type the parameters integer (32 bits) from the column they meet.
      .where('messages.received_at', '<', sql<number>`cast(${now} as bigint) - coalesce(accounts.data_ttl_days, ${this.opts.defaultDays}) * cast(${DAY_MS} as bigint)`)
      .orderBy('messages.id')
      .limit(this.opts.batchSize)
      .execute();
  }
}

/** Runs the job every `intervalMs` (first after `firstMs`); runs never overlap. Returns a stop function. */
export function startRetention(job: Retention, logger: Logger, intervalMs: number, firstMs = 5000): () => Promise<void> {
  let running: Promise<void> | null = null;
  const run = () => {
    running ??= job
      .run()
      .then(() => undefined)
      .catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'retention job failed'))
      .finally(() => {
        running = null;
      });
  };
  const first = setTimeout(run, firstMs);
  const timer = setInterval(run, intervalMs);
  first.unref();
  timer.unref();
  return async () => {
    clearTimeout(first);
    clearInterval(timer);
    await running;
  };
}
