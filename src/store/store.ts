import type { Config } from '../config/index.js';
import { openDatabase, type DatabaseHandle } from './db.js';
import { openBlobStore, type BlobStore } from './blobs/index.js';

/** The database and the blob store together: what the domain modules are given. */
export interface Store extends DatabaseHandle {
  blobs: BlobStore;
}

export async function openStore(config: Config): Promise<Store> {
  const handle = await openDatabase({ url: config.database.url, dataDir: config.dataDir, poolSize: config.database.poolSize });
  const blobs = await openBlobStore(config, handle.db);
  return {
    ...handle,
    blobs,
    close: async () => {
      await blobs.close?.();
      await handle.close();
    },
  };
}
