import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

/** A piece of work for a shared transaction: it runs in its own savepoint and returns its result. */
export type TransactionWork<T> = (trx: Transaction<Database>) => Promise<T>;

/**
 * Group commit: write transactions submitted while another is committing are run together in
 * the next transaction, each inside its own savepoint, so one COMMIT (one fsync) serves many
 * callers while a failure still affects only its own request. Every caller's promise settles
 * only after the COMMIT that contains its work — durability is unchanged. Unrelated writers
 * may share one (the service role gives deliveries and the mail-in worker's settlements the
 * same): on SQLite, where every COMMIT is an fsync on the one thread, a second kind of writer
 * then adds no COMMITs of its own while mail comes in.
 */
export class GroupCommit {
  private queue: Array<{ work: TransactionWork<unknown>; resolve(v: unknown): void; reject(e: unknown): void }> = [];
  private running = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly maxBatch = 128,
  ) {}

  submit<T>(work: TransactionWork<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      // With a synchronous driver (better-sqlite3) nothing else runs during a COMMIT, so a batch
      // only forms if we let the event loop turn once first: deliveries whose blob fsync
      // finished meanwhile then join this transaction instead of each paying its own fsync.
      await new Promise<void>((resolve) => setImmediate(resolve));
      while (this.queue.length) await this.runBatch(this.queue.splice(0, this.maxBatch));
    } finally {
      this.running = false;
    }
  }

  private async runBatch(batch: typeof this.queue): Promise<void> {
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    const trx = await this.db.startTransaction().execute().catch((error: unknown) => {
      for (const b of batch) b.reject(error);
      return null;
    });
    if (!trx) return;
    try {
      for (const item of batch) {
        if (batch.length === 1) {
          outcomes.push({ ok: true, value: await item.work(trx) });
          continue;
        }
        const sp = await trx.savepoint('one_request').execute();
        try {
          const value = await item.work(sp);
          await sp.releaseSavepoint('one_request').execute();
          outcomes.push({ ok: true, value });
        } catch (error) {
          await sp.rollbackToSavepoint('one_request').execute();
          outcomes.push({ ok: false, error });
        }
      }
      if (outcomes.every((o) => !o.ok)) await trx.rollback().execute();
      else await trx.commit().execute();
    } catch (error) {
      await trx.rollback().execute().catch(() => undefined);
      // A lone request's own error (quota, say) lands here; report it as is.
      for (const b of batch) b.reject(error);
      return;
    }
    batch.forEach((b, i) => {
      const o = outcomes[i]!;
      if (o.ok) b.resolve(o.value);
      else b.reject(o.error);
    });
  }
}
