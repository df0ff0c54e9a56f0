import type SQLite from 'better-sqlite3';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
} from 'kysely';
import type { WalSync } from './wal-sync.js';

/**
 * Kysely's SQLite dialect with two changes that matter for a mail server:
 *
 * - Durability without stalling: the database runs at `synchronous = NORMAL` and every write is
 *   followed by a WAL fdatasync in the thread pool (`WalSync`); the caller's COMMIT (or
 *   autocommitted statement) resolves only after it. A transaction's COMMIT hands the single
 *   connection to the next user *before* waiting, so reads and the next transaction go on while
 *   the disk works, and one fdatasync covers all that committed meanwhile.
 * - Prepared statements are kept: Kysely prepares every query anew, and statement preparation
 *   was a large share of a delivery's CPU time in the profile (docs/benchmarks.md). Our queries are a small fixed
 *   set, so they are cached (bounded, oldest dropped first).
 *
 * The connection is lent out one holder at a time, as in Kysely's own driver; each loan is its
 * own object so that a holder that released early cannot release its successor's loan.
 */
export function durableSqliteDialect(sqlite: SQLite.Database, wal: WalSync | null): Dialect {
  return {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new DurableSqliteDriver(sqlite, wal),
    createIntrospector: (db: Kysely<unknown>) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  };
}

class StatementCache {
  private readonly cache = new Map<string, SQLite.Statement>();
  constructor(
    private readonly sqlite: SQLite.Database,
    private readonly max = 500,
  ) {}

  get(source: string): SQLite.Statement {
    let stmt = this.cache.get(source);
    if (!stmt) {
      stmt = this.sqlite.prepare(source);
      if (this.cache.size >= this.max) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(source, stmt);
    }
    return stmt;
  }
}

class Loan implements DatabaseConnection {
  released = false;
  constructor(
    private readonly sqlite: SQLite.Database,
    private readonly statements: StatementCache,
    private readonly wal: WalSync | null,
  ) {}

  /** Runs one statement; `wrote` says whether it left committed changes that need the WAL synced. */
  run(sql: string, parameters: readonly unknown[]): { result: QueryResult<unknown>; wrote: boolean } {
    const stmt = this.statements.get(sql);
    const inTransaction = this.sqlite.inTransaction;
    let result: QueryResult<unknown>;
    if (stmt.reader) {
      result = { rows: stmt.all(parameters) };
    } else {
      const { changes, lastInsertRowid } = stmt.run(parameters);
      result = {
        numAffectedRows: changes !== undefined && changes !== null ? BigInt(changes) : undefined,
        insertId: lastInsertRowid !== undefined && lastInsertRowid !== null ? BigInt(lastInsertRowid) : undefined,
        rows: [],
      };
    }
    // Outside a transaction a writing statement commits by itself; a COMMIT (or RELEASE of the
    // outermost savepoint) ends one. A ROLLBACK also ends one but leaves nothing to sync.
    const wrote = !this.sqlite.inTransaction && !stmt.readonly && !(inTransaction && /^\s*rollback\b/i.test(sql));
    return { result, wrote };
  }

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const { result, wrote } = this.run(compiled.sql, compiled.parameters);
    if (wrote && this.wal) await this.wal.sync();
    return result as QueryResult<R>;
  }

  async *streamQuery<R>(compiled: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    const stmt = this.statements.get(compiled.sql);
    if (!stmt.reader) throw new Error('only statements that return rows can be streamed');
    for (const row of stmt.iterate(compiled.parameters)) yield { rows: [row as R] };
  }
}

class DurableSqliteDriver implements Driver {
  private readonly statements: StatementCache;
  private held: Promise<void> | null = null;
  private handBack: (() => void) | null = null;

  constructor(
    private readonly sqlite: SQLite.Database,
    private readonly wal: WalSync | null,
  ) {
    this.statements = new StatementCache(sqlite);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    while (this.held) await this.held;
    this.held = new Promise<void>((resolve) => (this.handBack = resolve));
    return new Loan(this.sqlite, this.statements, this.wal);
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const loan = connection as Loan;
    if (loan.released) return;
    loan.released = true;
    const handBack = this.handBack;
    this.held = null;
    this.handBack = null;
    handBack?.();
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const loan = connection as Loan;
    const { wrote } = loan.run('commit', []);
    // Nothing of this transaction runs on the connection any more: let the next holder in
    // while the WAL goes to disk. Kysely's own release afterwards is then a no-op.
    await this.releaseConnection(loan);
    if (wrote && this.wal) await this.wal.sync();
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint ${quoteName(name)}`));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`rollback to ${quoteName(name)}`));
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release ${quoteName(name)}`));
  }

  async destroy(): Promise<void> {
    await this.wal?.close();
    this.sqlite.close();
  }
}

function quoteName(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`unusable savepoint name ${JSON.stringify(name)}`);
  return name;
}
