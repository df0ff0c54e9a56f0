import { createHash, type Hash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { randomHex } from '../../core/index.js';
import type { Database } from '../schema.js';
import type { BlobWriter } from './blob-store.js';

export interface DatabaseBlobLimits {
  /** Largest blob accepted; a write beyond it rejects. */
  maxSizeBytes: number;
  /** Size of each chunk row, and the largest blob kept as one row. */
  chunkBytes: number;
}

const EMPTY = new Uint8Array(0);

/**
 * Writes one database blob. Up to `chunkBytes` is kept in memory, so a small blob becomes one
 * row at commit. Beyond that the writer opens a provisional upload (a `blob_uploads` row) and
 * inserts every full chunk as it fills, awaiting each insert, so the caller's next write waits
 * for the database and at most about one chunk is buffered. The hash is computed as the bytes
 * pass; commit publishes the `blobs` row and drops the upload row in one transaction.
 *
 * Chunks are only ever deleted together with the row that owns them (the upload row, or later
 * the blob row), in one transaction: an abort after a commit whose reply was lost, or a sweep
 * racing a late commit, then cannot remove chunks a published blob needs.
 */
export class DatabaseBlobWriter implements BlobWriter {
  private readonly hash: Hash = createHash('sha256');
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private size = 0;
  private uploadId: string | null = null;
  private seq = 0;
  private finished = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly limits: DatabaseBlobLimits,
  ) {}

  async write(chunk: Buffer): Promise<void> {
    if (this.finished) throw new Error('blob writer already committed or aborted');
    this.size += chunk.length;
    if (this.size > this.limits.maxSizeBytes) throw new Error(`blob larger than ${this.limits.maxSizeBytes} bytes`);
    this.hash.update(chunk);
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    // Strictly more than one chunk: a blob of exactly chunkBytes still becomes one row.
    while (this.pendingBytes > this.limits.chunkBytes) await this.flushChunk();
  }

  async commit(): Promise<{ hash: string; size: number }> {
    if (this.finished) throw new Error('blob writer already committed or aborted');
    this.finished = true;
    const hash = this.hash.digest('hex');
    const size = this.size;
    const now = Date.now();
    if (this.uploadId === null) {
      const data = this.take(this.pendingBytes);
      // Touching created_at on a repeat keeps a blob that is being filed again out of the
      // garbage collector's grace-expired list.
      await this.db
        .insertInto('blobs')
        .values({ hash, size, data, created_at: now })
        .onConflict((oc) => oc.column('hash').doUpdateSet({ created_at: now }))
        .execute();
      return { hash, size };
    }
    while (this.pendingBytes > 0) await this.flushChunk();
    const uploadId = this.uploadId;
    const published = await this.db.transaction().execute(async (trx) => {
      const claimed = await trx.deleteFrom('blob_uploads').where('id', '=', uploadId).executeTakeFirst();
      if (Number(claimed.numDeletedRows) !== 1) return false;
      const row = await trx
        .insertInto('blobs')
        .values({ hash, size, data: EMPTY, created_at: now, chunk_id: uploadId })
        .onConflict((oc) => oc.column('hash').doUpdateSet({ created_at: now }))
        .returning('chunk_id')
        .executeTakeFirstOrThrow();
      // The same bytes were stored already (by another writer, maybe at this moment): keep theirs.
      if (row.chunk_id !== uploadId) await trx.deleteFrom('blob_chunks').where('chunk_id', '=', uploadId).execute();
      return true;
    });
    // Outside the transaction: on SQLite its one connection is lent to the transaction.
    if (!published) throw await this.swept();
    this.uploadId = null;
    return { hash, size };
  }

  async abort(): Promise<void> {
    this.finished = true;
    this.pending = [];
    this.pendingBytes = 0;
    const id = this.uploadId;
    this.uploadId = null;
    if (id !== null) await dropUpload(this.db, id);
  }

  /** Inserts the next chunk (at most chunkBytes of what is pending), opening the upload first. */
  private async flushChunk(): Promise<void> {
    if (this.uploadId === null) {
      const id = randomHex(16);
      await this.db.insertInto('blob_uploads').values({ id, created_at: Date.now() }).execute();
      this.uploadId = id;
    } else {
      // Progress keeps the upload young: sweepTemp's grace counts from the last chunk, so a slow
      // but live sender is never swept (its later chunks would have no owner).
      const r = await this.db.updateTable('blob_uploads').set({ created_at: Date.now() }).where('id', '=', this.uploadId).executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) throw await this.swept();
    }
    const data = this.take(Math.min(this.limits.chunkBytes, this.pendingBytes));
    await this.db.insertInto('blob_chunks').values({ chunk_id: this.uploadId, seq: this.seq++, data }).execute();
  }

  /**
   * The upload row is gone (swept as stale): nothing owns this writer's chunks and nothing can
   * have published them (only this writer would), so they are removed here.
   */
  private async swept(): Promise<Error> {
    const id = this.uploadId!;
    this.uploadId = null;
    await this.db.deleteFrom('blob_chunks').where('chunk_id', '=', id).execute();
    return new Error('blob upload was removed as stale before it was committed');
  }

  /** The first n pending bytes as one buffer; copies at most n bytes however large the writes were. */
  private take(n: number): Buffer {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const head = this.pending[0]!;
      const want = n - got;
      if (head.length <= want) {
        parts.push(head);
        this.pending.shift();
        got += head.length;
      } else {
        parts.push(head.subarray(0, want));
        this.pending[0] = head.subarray(want);
        got += want;
      }
    }
    this.pendingBytes -= n;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }
}

/** Removes an unpublished upload and its chunks; false if its row was gone (committed or swept). */
export async function dropUpload(db: Kysely<Database>, id: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const r = await trx.deleteFrom('blob_uploads').where('id', '=', id).executeTakeFirst();
    if (Number(r.numDeletedRows) !== 1) return false;
    await trx.deleteFrom('blob_chunks').where('chunk_id', '=', id).execute();
    return true;
  });
}
