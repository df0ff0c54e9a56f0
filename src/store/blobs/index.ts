import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { inDataDir, type Config } from '../../config/index.js';
import type { Database } from '../schema.js';
import type { BlobStore } from './blob-store.js';
import { DatabaseBlobStore } from './database-store.js';
import { FileBlobStore } from './file-store.js';

/**
 * The blob stores side by side: files on this node's disk (file-store.ts, the default) or rows
 * of the database (database-store.ts, for nodes sharing one PostgreSQL); `blobs.backend` picks.
 */
export { writeBlob, type BlobStore, type BlobWriter } from './blob-store.js';
export { FileBlobStore } from './file-store.js';
export { DatabaseBlobStore } from './database-store.js';
export type { DatabaseBlobLimits } from './database-writer.js';

/** The blob store `config.blobs` asks for, ready to use. */
export async function openBlobStore(config: Config, db: Kysely<Database>): Promise<BlobStore> {
  if (config.blobs.backend === 'database') return new DatabaseBlobStore(db, { maxSizeBytes: config.blobs.maxSizeBytes, chunkBytes: config.blobs.chunkBytes });
  return new FileBlobStore(config.blobs.path ? inDataDir(config, config.blobs.path) : join(config.dataDir, 'blobs'), undefined, config.blobs.ioThreads, config.blobs.syncReadMaxBytes).init();
}
