import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { BlobStore } from './blobs/index.js';
import { blobsInUse } from './blob-refs.js';

export interface GcResult {
  examined: number;
  deleted: number;
}

/**
 * Deletes blobs no row refers to (blobsInUse: messages, mail-in documents, the relay queue) and
 * that are older than `graceMs`. Such blobs are left by a crash between the blob's fsync and the
 * COMMIT that files it (the message was never acknowledged). The grace period keeps blobs of
 * deliveries still in flight.
 */
export async function collectGarbageBlobs(db: Kysely<Database>, blobs: BlobStore, graceMs = 3_600_000, now = Date.now()): Promise<GcResult> {
  let examined = 0;
  let deleted = 0;
  let batch: string[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const used = await blobsInUse(db, batch);
    for (const h of batch) {
      if (used.has(h)) continue;
      await blobs.delete(h);
      deleted++;
    }
    batch = [];
  };
  for await (const b of blobs.list()) {
    examined++;
    if (now - b.createdAt < graceMs) continue;
    batch.push(b.hash);
    if (batch.length >= 500) await flush();
  }
  await flush();
  return { examined, deleted };
}

/** Removes temp files a crash left in a file blob store's tmp directory. */
export async function removeStaleTempFiles(tmpDir: string, graceMs = 3_600_000, now = Date.now()): Promise<number> {
  let removed = 0;
  for (const name of await readdir(tmpDir).catch(() => [] as string[])) {
    const p = join(tmpDir, name);
    const st = await stat(p).catch(() => null);
    if (st && now - st.mtimeMs >= graceMs) {
      await unlink(p).catch(() => undefined);
      removed++;
    }
  }
  return removed;
}
