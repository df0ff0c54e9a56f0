import type { Kysely } from 'kysely';
import type { BlobStore, Database } from '../../store/index.js';
import { ConflictError, NotFoundError } from '../../core/index.js';
import type { SettledBatch } from './relay-worker.js';
import { deleteUnreferencedBlobs } from '../accounts.js';
import { normalizeDomain } from '../addresses.js';

/** A queued recipient as `postamt queue list` and GET /api/queue show it. */
export interface QueueEntry {
  id: number;
  queueId: string;
  sender: string;
  recipient: string;
  domain: string;
  size: number;
  attempts: number;
  /** `sending`: a node holds its lease now; `waiting`: for `nextAttemptAt`. */
  state: 'sending' | 'waiting';
  nextAttemptAt: number;
  leaseUntil: number | null;
  lastError: string | null;
  createdAt: number;
}

/** Looking at and steering the relay queue; shared by the CLI and the admin API. */
export class RelayQueueAdmin {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly blobs: BlobStore,
    /** The worker's returnToSender: the DSN is built and filed as for an expired entry. */
    private readonly bounce?: (id: number) => Promise<SettledBatch>,
  ) {}

  /**
   * Return to sender: ends entry `id` with a failure DSN to its sender. Answers whether a DSN
   * was filed (none for a null sender or a sender without a mailbox here).
   */
  async returnToSender(id: number): Promise<{ id: number; recipient: string; dsn: 'failed' | null }> {
    if (!this.bounce) throw new ConflictError('this node has no relay worker to return entries');
    const s = await this.bounce(id);
    if (!s.held) throw new ConflictError(`queue entry ${id} was taken by a relay attempt meanwhile; look again`);
    return { id, recipient: s.batch.rows[0]!.recipient, dsn: s.dsn === 'failed' ? 'failed' : null };
  }

  async list(q: { domain?: string; limit?: number } = {}, now = Date.now()): Promise<QueueEntry[]> {
    let query = this.db
      .selectFrom('relay_queue')
      .selectAll()
      .orderBy('id')
      .limit(Math.min(Math.max(q.limit ?? 100, 1), 1000));
    if (q.domain) query = query.where('domain', '=', normalizeDomain(q.domain));
    const rows = await query.execute();
    return rows.map((r) => ({
      id: Number(r.id),
      queueId: r.queue_id,
      sender: r.mail_from,
      recipient: r.recipient,
      domain: r.domain,
      size: Number(r.size),
      attempts: Number(r.attempts),
      state: r.lease_until !== null && Number(r.lease_until) >= now ? 'sending' : 'waiting',
      nextAttemptAt: Number(r.next_attempt_at),
      leaseUntil: r.lease_until === null ? null : Number(r.lease_until),
      lastError: r.last_error,
      createdAt: Number(r.created_at),
    }));
  }

  /**
   * Makes one waiting row (or all) due now; a row being sent is left to its attempt. Returns how
   * many rows were made due. A running worker sees them at its next poll (or wake).
   */
  async retry(id?: number, now = Date.now()): Promise<number> {
    let q = this.db
      .updateTable('relay_queue')
      .set({ next_attempt_at: now })
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]));
    if (id !== undefined) q = q.where('id', '=', id);
    const r = await q.executeTakeFirst();
    const n = Number(r.numUpdatedRows);
    if (id !== undefined && n === 0) await this.mustExist(id);
    return n;
  }

  /** Removes a row without delivering it and without a DSN (the administrator decided); its blob goes when nothing else uses it. */
  async remove(id: number): Promise<void> {
    const row = await this.db.deleteFrom('relay_queue').where('id', '=', id).returning('blob_hash').executeTakeFirst();
    if (!row) throw new NotFoundError(`queue entry ${id} does not exist`);
    await deleteUnreferencedBlobs(this.db, this.blobs, [row.blob_hash]);
  }

  private async mustExist(id: number): Promise<void> {
    const row = await this.db.selectFrom('relay_queue').select('id').where('id', '=', id).executeTakeFirst();
    if (!row) throw new NotFoundError(`queue entry ${id} does not exist`);
  }
}
