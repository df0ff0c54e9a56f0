import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import type { Database, DirEntryRow, Dialect } from '../store/index.js';
import { ATTRIBUTES } from './attributes.js';
import { equalityKey } from './normalise.js';
import { splitDer } from './der.js';
import type { DirEntry } from './entry.js';

/**
 * The directory's SQL. Hand-written statements (the same text on both dialects, `?` turned into
 * `$n` for PostgreSQL) run through Kysely's executeQuery: no query building on the hot path,
 * and SQLite reuses the prepared statement (store/db.ts caches by text).
 */
export type Executor = Kysely<Database> | Transaction<Database>;

/** The database the directory lives in. */
export interface DirectoryStore {
  db: Kysely<Database>;
  dialect: Dialect;
}

const pgText = new Map<string, string>();

export function query(dialect: Dialect, text: string, params: readonly unknown[]): CompiledQuery {
  if (dialect === 'postgres') {
    let t = pgText.get(text);
    if (t === undefined) {
      let n = 0;
      t = text.replace(/\?/g, () => `$${++n}`);
      if (pgText.size < 1000) pgText.set(text, t);
    }
    return CompiledQuery.raw(t, params as unknown[]);
  }
  return CompiledQuery.raw(text, params as unknown[]);
}

export async function run<R>(ex: Executor, dialect: Dialect, text: string, params: readonly unknown[] = []): Promise<R[]> {
  const r = await ex.executeQuery<R>(query(dialect, text, params));
  return r.rows as R[];
}

export const ENTRY_COLUMNS = 'id, uid, telematik_id, attrs, certs, entry_uuid, created_at, modified_at';
export const ENTRY_COLUMNS_E = 'e.id, e.uid, e.telematik_id, e.attrs, e.certs, e.entry_uuid, e.created_at, e.modified_at';

export function rowToEntry(r: Pick<DirEntryRow, 'id' | 'uid' | 'attrs' | 'certs' | 'entry_uuid' | 'created_at' | 'modified_at'>): DirEntry {
  const certs = r.certs && r.certs.length ? splitDer(Buffer.isBuffer(r.certs) ? r.certs : Buffer.from(r.certs)) : [];
  return {
    id: Number(r.id),
    uid: r.uid,
    attrs: JSON.parse(r.attrs) as Record<string, string[]>,
    certs,
    entryUuid: r.entry_uuid,
    createdAt: Number(r.created_at),
    modifiedAt: Number(r.modified_at),
  };
}

/** The dir_values rows of an entry: every indexed attribute's equality key. */
export function valueRows(e: DirEntry): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const def of ATTRIBUTES) {
    if (!def.indexed) continue;
    const seen = new Set<string>();
    for (const v of e.attrs[def.name] ?? []) {
      const key = equalityKey(def.syntax, v);
      if (key === null || seen.has(key)) continue;
      seen.add(key);
      out.push([def.name, key]);
    }
  }
  return out;
}

export function normUid(uid: string): string {
  return equalityKey('string', uid)!;
}

function entryParams(e: DirEntry): unknown[] {
  return [
    e.uid,
    normUid(e.uid),
    e.attrs.telematikID![0]!,
    equalityKey('string', e.attrs.telematikID![0]!)!,
    JSON.stringify(e.attrs),
    Buffer.concat(e.certs),
    e.entryUuid,
    e.createdAt,
    e.modifiedAt,
  ];
}

const INSERT_COLS = '(uid, uid_norm, telematik_id, telematik_norm, attrs, certs, entry_uuid, created_at, modified_at)';
const ROW9 = '(?, ?, ?, ?, ?, ?, ?, ?, ?)';

/** Column arrays for PostgreSQL's unnest: one parameter per column instead of one per value. */
function columns(rows: unknown[][], n: number): unknown[][] {
  const cols: unknown[][] = Array.from({ length: n }, () => []);
  for (const r of rows) for (let k = 0; k < n; k++) cols[k]!.push(r[k]);
  return cols;
}

/** Inserts entries (one multi-row statement per call); returns them with their ids. */
export async function insertEntries(ex: Executor, dialect: Dialect, entries: DirEntry[]): Promise<DirEntry[]> {
  if (entries.length === 0) return [];
  const rows =
    dialect === 'postgres'
      ? await run<{ id: number; uid_norm: string }>(
          ex,
          dialect,
          `insert into dir_entries ${INSERT_COLS} select * from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bytea[], ?::text[], ?::bigint[], ?::bigint[]) returning id, uid_norm`,
          columns(entries.map(entryParams), 9),
        )
      : await run<{ id: number; uid_norm: string }>(
          ex,
          dialect,
          `insert into dir_entries ${INSERT_COLS} values ${entries.map(() => ROW9).join(', ')} returning id, uid_norm`,
          entries.flatMap(entryParams),
        );
  const ids = new Map(rows.map((r) => [r.uid_norm, Number(r.id)]));
  const stored = entries.map((e) => ({ ...e, id: ids.get(normUid(e.uid))! }));
  await insertValues(ex, dialect, stored);
  return stored;
}

async function insertValues(ex: Executor, dialect: Dialect, entries: DirEntry[]): Promise<void> {
  if (dialect === 'postgres') {
    const ids: number[] = [];
    const attrs: string[] = [];
    const norms: string[] = [];
    for (const e of entries) {
      for (const [attr, key] of valueRows(e)) {
        ids.push(e.id);
        attrs.push(attr);
        norms.push(key);
      }
    }
    if (ids.length) await run(ex, dialect, 'insert into dir_values (entry_id, attr, norm) select * from unnest(?::bigint[], ?::text[], ?::text[])', [ids, attrs, norms]);
    return;
  }
  const rows: unknown[] = [];
  for (const e of entries) for (const [attr, key] of valueRows(e)) rows.push(e.id, attr, key);
  // 3 parameters a row; stay well below SQLite's and PostgreSQL's parameter limits.
  const per = 3000 * 3;
  for (let off = 0; off < rows.length; off += per) {
    const chunk = rows.slice(off, off + per);
    const n = chunk.length / 3;
    await run(ex, dialect, `insert into dir_values (entry_id, attr, norm) values ${Array.from({ length: n }, () => '(?, ?, ?)').join(', ')}`, chunk);
  }
}

export async function updateEntry(ex: Executor, dialect: Dialect, e: DirEntry): Promise<void> {
  const p = entryParams(e);
  await run(
    ex,
    dialect,
    'update dir_entries set uid = ?, uid_norm = ?, telematik_id = ?, telematik_norm = ?, attrs = ?, certs = ?, entry_uuid = ?, created_at = ?, modified_at = ? where id = ?',
    [...p, e.id],
  );
  await run(ex, dialect, 'delete from dir_values where entry_id = ?', [e.id]);
  await insertValues(ex, dialect, [e]);
}

export async function deleteEntry(ex: Executor, dialect: Dialect, id: number): Promise<void> {
  await run(ex, dialect, 'delete from dir_values where entry_id = ?', [id]);
  await run(ex, dialect, 'delete from dir_entries where id = ?', [id]);
}

export async function bumpVersion(ex: Executor, dialect: Dialect): Promise<void> {
  await run(ex, dialect, 'update dir_state set version = version + 1 where id = 1');
}

export async function readVersion(ex: Executor, dialect: Dialect): Promise<number> {
  const rows = await run<{ version: number }>(ex, dialect, 'select version from dir_state where id = 1');
  return Number(rows[0]?.version ?? 0);
}

export async function entriesByIds(ex: Executor, dialect: Dialect, ids: number[]): Promise<DirEntry[]> {
  if (ids.length === 0) return [];
  if (ids.length === 1) return (await run<DirEntryRow>(ex, dialect, `select ${ENTRY_COLUMNS} from dir_entries where id = ?`, ids)).map(rowToEntry);
  const rows = await run<DirEntryRow>(ex, dialect, `select ${ENTRY_COLUMNS} from dir_entries where id in (${ids.map(() => '?').join(', ')})`, ids);
  return rows.map(rowToEntry);
}

export async function countEntries(ex: Executor, dialect: Dialect): Promise<number> {
  const rows = await run<{ n: number }>(ex, dialect, 'select count(*) as n from dir_entries');
  return Number(rows[0]?.n ?? 0);
}

/** What an import needs to know of the stored entries with these unique keys, by key. */
export async function entriesWithKeys(
  ex: Executor,
  dialect: Dialect,
  column: 'uid_norm' | 'telematik_norm',
  keys: string[],
): Promise<Map<string, { id: number; uid: string; entry_uuid: string; created_at: number }>> {
  const rows = await run<{ id: number; uid: string; k: string; entry_uuid: string; created_at: number }>(
    ex,
    dialect,
    `select id, uid, ${column} as k, entry_uuid, created_at from dir_entries where ${column} in (${keys.map(() => '?').join(', ')})`,
    keys,
  );
  return new Map(rows.map((r) => [r.k, { id: Number(r.id), uid: r.uid, entry_uuid: r.entry_uuid, created_at: Number(r.created_at) }]));
}

/** One entry by its unique uid or telematikID key; `forUpdate` locks the row on PostgreSQL. */
export async function entryByKey(ex: Executor, dialect: Dialect, column: 'uid_norm' | 'telematik_norm', key: string, forUpdate = false): Promise<DirEntry | undefined> {
  const lock = forUpdate && dialect === 'postgres' ? ' for update' : '';
  const rows = await run<DirEntryRow>(ex, dialect, `select ${ENTRY_COLUMNS} from dir_entries where ${column} = ?${lock}`, [key]);
  return rows[0] ? rowToEntry(rows[0]) : undefined;
}

/**
 * One batch of an attribute's index rows in (norm, entry_id) order after a position (keyset
 * paging on the dir_values_lookup index; row values work on SQLite and PostgreSQL).
 */
export async function valuesAfter(ex: Executor, dialect: Dialect, attr: string, after: { norm: string; id: number } | undefined, limit: number): Promise<Array<{ norm: string; entry_id: number }>> {
  return after
    ? run(ex, dialect, `select norm, entry_id from dir_values where attr = ? and (norm, entry_id) > (?, ?) order by norm, entry_id limit ${limit}`, [attr, after.norm, after.id])
    : run(ex, dialect, `select norm, entry_id from dir_values where attr = ? order by norm, entry_id limit ${limit}`, [attr]);
}

/** One batch of entry rows in id order after `afterId` (undecoded: the caller may have them already). */
export async function entryRowsAfter(ex: Executor, dialect: Dialect, afterId: number, limit: number): Promise<DirEntryRow[]> {
  return run<DirEntryRow>(ex, dialect, `select ${ENTRY_COLUMNS} from dir_entries where id > ? order by id limit ${limit}`, [afterId]);
}
