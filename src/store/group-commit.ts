import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

/**
 * Group commit: write transactions submitted while another is committing are run together in
 * the next transaction, each inside its own savepoint, so one COMMIT (one fsync) serves many
 * callers while a failure still affects only its own request. Every caller's promise settles
 * only after the COMMIT that contains its work — durability is unchanged.
 */
export class GroupCommit<Req, Res> {
  private queue: Array<{ req: Req; resolve(v: Res): void; reject(e: unknown): void }> = [];
  private running = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly apply: (trx: Transaction<Database>, req: Req) => Promise<Res>,
    private readonly maxBatch = 128,
  ) {}

  submit(req: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.queue.push({ req, resolve, reject });
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
    const outcomes: Array<{ ok: true; value: Res } | { ok: false; error: unknown }> = [];
    const trx = await this.db.startTransaction().execute().catch((error: unknown) => {
      for (const b of batch) b.reject(error);
      return null;
    });
    if (!trx) return;
    try {
      for (const item of batch) {
        if (batch.length === 1) {
          outcomes.push({ ok: true, value: await this.apply(trx, item.req) });
          continue;
        }
        const sp = await trx.savepoint('one_request').execute();
        try {
          const value = await this.apply(sp, item.req);
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

/** A piece of work for a shared transaction: it runs in its own savepoint and returns its result. */
export type TransactionWork<T> = (trx: Transaction<Database>) => Promise<T>;

/**
 * One group commit for unrelated writers of a process (deliveries, the mail-in worker settling
 * its jobs): their work shares a COMMIT, so on SQLite, where every COMMIT is an fsync on the one
 * thread, a second kind of writer does not add COMMITs of its own while mail comes in.
 */
export class SharedCommit {
  private readonly group: GroupCommit<TransactionWork<unknown>, unknown>;

  constructor(db: Kysely<Database>, maxBatch = 128) {
    this.group = new GroupCommit(db, (trx, work) => work(trx), maxBatch);
  }

  submit<T>(work: TransactionWork<T>): Promise<T> {
    return this.group.submit(work) as Promise<T>;
  }
}
