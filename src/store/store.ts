import type { Config } from '../config/index.js';
import { openDatabase, type DatabaseHandle } from './db.js';
import { openBlobStore, type BlobStore } from './blobs/index.js';
import type { SecretBox } from './secret-box.js';
import { openSecretBox } from './stored-secrets.js';

/** The database, the blob store and the box of stored secrets together: what the domain modules are given. */
export interface Store extends DatabaseHandle {
  blobs: BlobStore;
  /** Seals and opens the secrets rows hold (store/secret-box.ts); its key matches the store's. */
  secrets: SecretBox;
}

export async function openStore(config: Config): Promise<Store> {
  const handle = await openDatabase({ url: config.database.url, dataDir: config.dataDir, poolSize: config.database.poolSize });
  let secrets: SecretBox;
  try {
    secrets = await openSecretBox(config, handle);
  } catch (err) {
    await handle.close();
    throw err;
  }
  const blobs = await openBlobStore(config, handle.db);
  return {
    ...handle,
    blobs,
    secrets,
    close: async () => {
      await blobs.close?.();
      await handle.close();
    },
  };
}
