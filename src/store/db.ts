import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, sql, type MigrationResult } from 'kysely';
import type { Database } from './schema.js';
import type { Dialect } from './dialect.js';
import { MIGRATION_NAMES, migrationProvider } from './migrations/index.js';
import { PostamtError } from '../core/index.js';
import { durableSqliteDialect } from './sqlite-driver.js';
import { WalSync } from './wal-sync.js';

export interface DatabaseHandle {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Where the data lives, without any password: for logs and `config check`. */
  describe: string;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  url: string;
  /** Relative sqlite: paths resolve against this directory. */
  dataDir: string;
  poolSize?: number;
}

/** The file a `sqlite:` URL names (relative paths against dataDir); null for PostgreSQL and `:memory:`. */
export function sqlitePath(url: string, dataDir: string): string | null {
  if (!url.startsWith('sqlite:')) return null;
  const raw = url.slice('sqlite:'.length);
  if (raw === ':memory:') return null;
  return isAbsolute(raw) ? raw : resolve(dataDir, raw);
}

function openSqlite(path: string): Kysely<Database> {
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the database
    // file's mode, whatever the process's umask.
    closeSync(openSync(path, 'a', 0o600));
  }
  const sqlite = new SQLite(path);
  // WAL lets POP3 readers run beside the writer. A 250 after DATA promises the COMMIT is on
  // disk: SQLite runs at NORMAL (COMMIT writes the WAL, checkpoints still sync) and the driver
  // fdatasyncs the WAL off the event loop before any commit resolves — see sqlite-driver.ts.
  const wal = sqlite.pragma('journal_mode = WAL', { simple: true }) === 'wal';
  sqlite.pragma(wal ? 'synchronous = NORMAL' : 'synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 10000');
  return new Kysely<Database>({ dialect: durableSqliteDialect(sqlite, wal ? new WalSync(`${path}-wal`) : null) });
}

function openPostgres(url: string, poolSize: number): Kysely<Database> {
  const INT8 = 20;
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    // bigint columns hold epoch milliseconds and byte counts: all far below 2^53.
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as never)) as typeof pg.types.getTypeParser,
    },
  });
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

/** Opens the store named by `url` and brings its schema up to date. */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<DatabaseHandle> {
  let db: Kysely<Database>;
  let dialect: Dialect;
  let describe: string;
  if (opts.url.startsWith('sqlite:')) {
    const path = sqlitePath(opts.url, opts.dataDir) ?? ':memory:';
    db = openSqlite(path);
    dialect = 'sqlite';
    describe = `sqlite:${path}`;
  } else {
    db = openPostgres(opts.url, opts.poolSize ?? 10);
    dialect = 'postgres';
    describe = redactUrl(opts.url);
  }
  try {
    await migrate(db, dialect);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return { db, dialect, describe, close: () => db.destroy() };
}

/**
 * Refuses a store that a newer release has migrated: this node's code does not know that
 * schema, and writing to it could break what the newer nodes rely on. Kysely would refuse too,
 * but as "corrupted migrations"; this says what to do.
 */
async function refuseNewerStore(db: Kysely<Database>): Promise<void> {
  let applied: string[];
  try {
    applied = (await sql<{ name: string }>`select name from kysely_migration`.execute(db)).rows.map((r) => r.name);
  } catch {
    return; // no migration table yet: a fresh store
  }
  const unknown = applied.filter((n) => !MIGRATION_NAMES.includes(n)).sort();
  if (unknown.length > 0) {
    throw new PostamtError(
      'store-newer',
      `the database was migrated by a newer Postamt (migration ${unknown.join(', ')}; this release knows up to ${MIGRATION_NAMES.at(-1)}): ` +
        'upgrade this node to the release the other nodes run (docs/operations.md, "Upgrades and migrations")',
    );
  }
}

/**
 * Brings the schema up to date. On PostgreSQL Kysely's migrator holds a session advisory lock
 * and runs all pending migrations in one transaction, so nodes starting together on one
 * database apply each migration once: the others wait for the lock and then find nothing to do.
 */
export async function migrate(db: Kysely<Database>, dialect: Dialect): Promise<MigrationResult[]> {
  await refuseNewerStore(db);
  const migrator = new Migrator({ db, provider: migrationProvider(dialect) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  return results ?? [];
}
