import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import { checkHash, type BlobStore, type BlobWriter } from './blob-store.js';

/**
 * Blobs as rows of the `blobs` table: for several nodes sharing one PostgreSQL, where no
 * node's disk is visible to the others. The database's own commit makes them durable.
 */
export class DatabaseBlobStore implements BlobStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly maxSize = 64 * 1024 * 1024,
  ) {}

  async writer(): Promise<BlobWriter> {
    return new DatabaseBlobWriter(this.db, this.maxSize);
  }

  async get(hash: string, _size?: number): Promise<Buffer> {
    checkHash(hash);
    const row = await this.db.selectFrom('blobs').select('data').where('hash', '=', hash).executeTakeFirst();
    if (!row) throw Object.assign(new Error(`blob ${hash} not found`), { code: 'ENOENT' });
    return Buffer.from(row.data);
  }

  async stream(hash: string): Promise<Readable> {
    const { Readable } = await import('node:stream');
    return Readable.from([await this.get(hash)]);
  }

  async delete(hash: string): Promise<void> {
    checkHash(hash);
    await this.db.deleteFrom('blobs').where('hash', '=', hash).execute();
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
}

/** Gathers the chunks in memory (at most maxSize) and inserts them as one row at commit. */
class DatabaseBlobWriter implements BlobWriter {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly maxSize: number,
  ) {}

  async write(chunk: Buffer): Promise<void> {
    this.size += chunk.length;
    if (this.size > this.maxSize) throw new Error(`blob larger than ${this.maxSize} bytes`);
    this.chunks.push(chunk);
  }

  async commit(): Promise<{ hash: string; size: number }> {
    const size = this.size;
    const data = Buffer.concat(this.chunks, size);
    const hash = createHash('sha256').update(data).digest('hex');
    await this.db
      .insertInto('blobs')
      .values({ hash, size, data, created_at: Date.now() })
      .onConflict((oc) => oc.column('hash').doNothing())
      .execute();
    return { hash, size };
  }

  async abort(): Promise<void> {
    this.chunks.length = 0;
  }
}
