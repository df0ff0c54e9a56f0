import { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/** A row's bytes as a Buffer without copying them (drivers hand out Buffers or plain Uint8Arrays). */
export function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function lost(hash: string, why: string): Error {
  return Object.assign(new Error(`blob ${hash} ${why}`), { code: 'ENOENT' });
}

/**
 * A chunked blob, read one chunk row per `_read`: Node calls `_read` again only once the
 * consumer has taken what was pushed (each chunk is far above the stream's high-water mark), so
 * a slow reader holds one chunk in memory, not the blob. Each chunk is its own pooled query; no
 * transaction is held while the consumer is slow. The end is the blob's recorded size (not the
 * configured chunk size, which may have changed since the blob was written); a chunk missing
 * before that — the blob deleted meanwhile — fails the stream with ENOENT.
 */
export class ChunkReadStream extends Readable {
  private seq = 0;
  private delivered = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly hash: string,
    private readonly chunkId: string,
    private readonly size: number,
  ) {
    super();
  }

  override _read(): void {
    if (this.delivered >= this.size) {
      this.push(null);
      return;
    }
    const seq = this.seq++;
    this.db
      .selectFrom('blob_chunks')
      .select('data')
      .where('chunk_id', '=', this.chunkId)
      .where('seq', '=', seq)
      .executeTakeFirst()
      .then(
        (row) => {
          if (!row) return this.destroy(lost(this.hash, `lost chunk ${seq}`));
          const data = asBuffer(row.data);
          this.delivered += data.length;
          if (this.delivered > this.size) return this.destroy(new Error(`blob ${this.hash} is longer than its recorded ${this.size} bytes`));
          this.push(data);
          if (this.delivered === this.size) this.push(null);
        },
        (err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))),
      );
  }
}

/** A chunked blob whole, in one buffer of its size (for callers that need it all anyway). */
export async function readChunked(stream: Readable, hash: string, size: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for await (const c of stream as AsyncIterable<Buffer>) {
    if (at + c.length > size) throw new Error(`blob ${hash} is longer than its recorded ${size} bytes`);
    c.copy(out, at);
    at += c.length;
  }
  if (at !== size) throw lost(hash, `ended after ${at} of ${size} bytes`);
  return out;
}
