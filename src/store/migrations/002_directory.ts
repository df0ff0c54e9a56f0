import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

/**
 * The VZD directory. One row per entry holds the attributes as JSON and the certificates as
 * one blob of concatenated DER (DER is self-delimiting), so the hot search — by mail, returning
 * userCertificate — reads a single row. `dir_values` holds the normalised value of every
 * indexed attribute: equality is `attr = ? AND norm = ?`, a prefix is the range
 * `norm >= p AND norm < successor(p)`, both answered by the (attr, norm, entry_id) index on
 * SQLite and PostgreSQL alike. PostgreSQL compares `norm` in the "C" collation so that the
 * range is byte (code point) order, as on SQLite. `dir_state.version` rises with every change
 * so that caches on other nodes notice.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const pg = dialect === 'postgres';
  const id = pg ? 'bigserial primary key' : 'integer primary key autoincrement';
  const big = pg ? 'bigint' : 'integer';
  const bytes = pg ? 'bytea' : 'blob';
  const ctext = pg ? 'text collate "C"' : 'text';

  await sql
    .raw(
      `create table dir_entries (
        id ${id},
        uid text not null,
        uid_norm ${ctext} not null,
        telematik_id text not null,
        telematik_norm ${ctext} not null,
        attrs text not null,
        certs ${bytes} not null,
        entry_uuid text not null,
        created_at ${big} not null,
        modified_at ${big} not null
      )`,
    )
    .execute(db);
  await sql.raw('create unique index dir_entries_uid on dir_entries (uid_norm)').execute(db);
  await sql.raw('create unique index dir_entries_telematik on dir_entries (telematik_norm)').execute(db);

  await sql
    .raw(
      `create table dir_values (
        entry_id ${big} not null references dir_entries(id) on delete cascade,
        attr text not null,
        norm ${ctext} not null
      )`,
    )
    .execute(db);
  await sql.raw('create index dir_values_lookup on dir_values (attr, norm, entry_id)').execute(db);
  await sql.raw('create index dir_values_entry on dir_values (entry_id)').execute(db);

  await sql.raw(`create table dir_state (id integer primary key, version ${big} not null)`).execute(db);
  await sql.raw('insert into dir_state (id, version) values (1, 0)').execute(db);
}
