import type { Readable } from 'node:stream';

/** A blob being written: feed it chunks, then `commit` makes it durable and names it. */
export interface BlobWriter {
  write(chunk: Buffer): Promise<void>;
  /** Flushes and fsyncs; resolves to the content address once the blob survives a crash. */
  commit(): Promise<{ hash: string; size: number }>;
  abort(): Promise<void>;
}

/** Content-addressed storage for raw messages: the address is the SHA-256 of the bytes. */
export interface BlobStore {
  writer(): Promise<BlobWriter>;
  /** The whole blob; `size`, when the caller knows it, saves a stat. */
  get(hash: string, size?: number): Promise<Buffer>;
  stream(hash: string): Promise<Readable>;
  delete(hash: string): Promise<void>;
  /** Every stored hash (for garbage collection of blobs no row refers to). */
  list(): AsyncIterable<{ hash: string; createdAt: number }>;
  /** Releases handles the store keeps open. */
  close?(): Promise<void>;
  /** Removes temp files older than graceMs that a crash left behind; returns how many. */
  sweepTemp?(graceMs: number): Promise<number>;
}

/** Stores bytes already in memory as one durable blob (an edited mail-in copy, a DSN). */
export async function writeBlob(blobs: BlobStore, data: Buffer): Promise<{ hash: string; size: number }> {
  const w = await blobs.writer();
  try {
    await w.write(data);
    return await w.commit();
  } catch (err) {
    await w.abort();
    throw err;
  }
}

/** A blob address: 64 lower-case hex digits. */
export const HASH_RE = /^[0-9a-f]{64}$/;

export function checkHash(hash: string): void {
  if (!HASH_RE.test(hash)) throw new Error(`not a blob address: ${hash.slice(0, 80)}`);
}
