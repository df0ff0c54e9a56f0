import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { inDataDir } from '../config/index.js';
import { openDatabase, type DatabaseHandle } from './db.js';
import { DatabaseBlobStore, FileBlobStore, type BlobStore } from './blobs.js';

/** The database and the blob store together: what the domain modules are given. */
export interface Store extends DatabaseHandle {
  blobs: BlobStore;
}

export async function openStore(config: Config): Promise<Store> {
  const handle = await openDatabase({ url: config.database.url, dataDir: config.dataDir, poolSize: config.database.poolSize });
  const blobs: BlobStore =
    config.blobs.backend === 'database'
      ? new DatabaseBlobStore(handle.db)
      : await new FileBlobStore(config.blobs.path ? inDataDir(config, config.blobs.path) : join(config.dataDir, 'blobs'), undefined, config.blobs.ioThreads).init();
  return {
    ...handle,
    blobs,
    close: async () => {
      await blobs.close?.();
      await handle.close();
    },
  };
}
