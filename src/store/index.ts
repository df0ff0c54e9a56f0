export { openDatabase, migrate, redactUrl, type DatabaseHandle, type OpenDatabaseOptions } from './db.js';
export { FileBlobStore, DatabaseBlobStore, writeBlob, type BlobStore, type BlobWriter } from './blobs/index.js';
export type { Database, DomainRow, AccountRow, MessageRow, DirEntryRow } from './schema.js';
export type { Dialect } from './dialect.js';
export { openStore, type Store } from './store.js';
export { dataPaths, findExposedPaths, makePrivate, mkdirPrivate, type ExposedPath, type PrivateResult } from './data-dir.js';
export { GroupCommit, type TransactionWork } from './group-commit.js';
export { blobsInUse } from './blob-refs.js';
export { collectGarbageBlobs, removeStaleTempFiles, type GcResult } from './blob-gc.js';
