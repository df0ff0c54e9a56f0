import { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import { checkHash, type BlobStore, type BlobWriter } from './blob-store.js';
import { asBuffer, ChunkReadStream, readChunked } from './database-chunks.js';
import { DatabaseBlobWriter, dropUpload, type DatabaseBlobLimits } from './database-writer.js';

export const DEFAULT_DATABASE_BLOB_LIMITS: DatabaseBlobLimits = { maxSizeBytes: 256 * 1024 * 1024, chunkBytes: 1024 * 1024 };

/**
 * Blobs as rows of the database: for several nodes sharing one PostgreSQL, where no node's disk
 * is visible to the others. The database's own commit makes them durable.
 *
 * A blob up to `chunkBytes` is one `blobs` row (nearly all mail: one insert, one select). A
 * larger one is `blob_chunks` rows of `chunkBytes` each, written as the message arrives
 * (database-writer.ts) and streamed back a chunk at a time (database-chunks.ts), so neither
 * side holds the whole message. Chunk rows rather than PostgreSQL large objects because:
 * - lo_read/lo_write work only inside a transaction, which would hold a pooled connection (and
 *   its snapshot, delaying vacuum) for as long as the slowest SMTP client or POP3 reader takes;
 *   chunk rows are plain pooled statements, each short;
 * - a large object is not deleted with the row naming it: orphaned OIDs need vacuumlo or a
 *   trigger, and pg_dump handles them separately (--large-objects, their own ownership and
 *   permissions, lo_compat_privileges); chunk rows are ordinary table data, dumped, replicated
 *   and permitted like every other table;
 * - one schema serves both dialects: SQLite (`blobs.backend: database` on a single node) has
 *   no large objects.
 * PostgreSQL TOASTs each chunk (compressed, stored out of line); 1 MiB keeps a row well below
 * the 1 GB field limit and the per-chunk round trip small against its transfer time.
 */
export class DatabaseBlobStore implements BlobStore {
  private readonly limits: DatabaseBlobLimits;

  constructor(
    private readonly db: Kysely<Database>,
    limits: Partial<DatabaseBlobLimits> = {},
  ) {
    this.limits = { ...DEFAULT_DATABASE_BLOB_LIMITS, ...limits };
  }

  async writer(): Promise<BlobWriter> {
    return new DatabaseBlobWriter(this.db, this.limits);
  }

  async get(hash: string, _size?: number): Promise<Buffer> {
    const row = await this.row(hash);
    if (row.chunk_id === null) return asBuffer(row.data);
    return readChunked(new ChunkReadStream(this.db, hash, row.chunk_id, row.size), hash, row.size);
  }

  async stream(hash: string): Promise<Readable> {
    const row = await this.row(hash);
    if (row.chunk_id === null) return Readable.from([asBuffer(row.data)]);
    return new ChunkReadStream(this.db, hash, row.chunk_id, row.size);
  }

  private async row(hash: string): Promise<{ size: number; data: Uint8Array; chunk_id: string | null }> {
    checkHash(hash);
    const row = await this.db.selectFrom('blobs').select(['size', 'data', 'chunk_id']).where('hash', '=', hash).executeTakeFirst();
    if (!row) throw Object.assign(new Error(`blob ${hash} not found`), { code: 'ENOENT' });
    return row;
  }

  async delete(hash: string): Promise<void> {
    checkHash(hash);
    await this.db.transaction().execute(async (trx) => {
      const rows = await trx.deleteFrom('blobs').where('hash', '=', hash).returning('chunk_id').execute();
      const chunkId = rows[0]?.chunk_id;
      if (chunkId) await trx.deleteFrom('blob_chunks').where('chunk_id', '=', chunkId).execute();
    });
  }

  async *list(): AsyncIterable<{ hash: string; createdAt: number }> {
    let after = '';
    for (;;) {
      const rows = await this.db.selectFrom('blobs').select(['hash', 'created_at']).where('hash', '>', after).orderBy('hash').limit(1000).execute();
      for (const r of rows) yield { hash: r.hash, createdAt: r.created_at };
      if (rows.length < 1000) return;
      after = rows[rows.length - 1]!.hash;
    }
  }

  /** Removes uploads older than graceMs that were never committed or aborted (a crashed writer's), with their chunks. */
  async sweepTemp(graceMs: number, now = Date.now()): Promise<number> {
    let removed = 0;
    for (;;) {
      const stale = await this.db.selectFrom('blob_uploads').select('id').where('created_at', '<=', now - graceMs).orderBy('id').limit(100).execute();
      for (const { id } of stale) if (await dropUpload(this.db, id)) removed++;
      if (stale.length < 100) return removed;
    }
  }
}
