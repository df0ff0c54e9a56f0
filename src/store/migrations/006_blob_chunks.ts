import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';
import { columnTypes } from './column-types.js';

/**
 * Large database blobs as chunk rows (store/blobs/database-store.ts says why not large
 * objects). `blob_uploads` names a blob being written (a provisional id, since the hash is only
 * known at the end); its `blob_chunks` are written under that id as they arrive. Commit inserts
 * the `blobs` row with `chunk_id` = that id and drops the upload row in one transaction, so the
 * chunks change owner without being rewritten. An upload row older than the grace period is a
 * crashed writer's: sweepTemp removes it with its chunks. A small blob stays one `blobs` row
 * (`data`, `chunk_id` null); a chunked one has empty `data`.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const { big } = columnTypes(dialect);
  const bytes = dialect === 'postgres' ? 'bytea' : 'blob';
  await sql.raw(`alter table blobs add column chunk_id text`).execute(db);
  await sql.raw(`create table blob_uploads (id text primary key, created_at ${big} not null)`).execute(db);
  await sql.raw(`create table blob_chunks (chunk_id text not null, seq integer not null, data ${bytes} not null, primary key (chunk_id, seq))`).execute(db);
}
