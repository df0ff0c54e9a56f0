import { sql, type Kysely } from 'kysely';

/**
 * Facts about the store itself, one row each: `secret_key_id`, the id of the key its sealed
 * secrets are sealed with (store/stored-secrets.ts), so a node with another key is refused at
 * start instead of failing on every sealed value.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql.raw(`create table store_meta (name text primary key, value text not null)`).execute(db);
}
