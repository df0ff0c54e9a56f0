import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { isAbsolute, resolve } from 'node:path';
import type { IntegrationUser, UserSource } from '../types.js';
import { verifyHash } from '../hashes/verify.js';
import { burnHashCheck } from '../burn.js';
import { bindParams, paramValues, type SqlParam } from './sql-params.js';
import { userFromRow, truthy } from './sql-row.js';

export interface SqlSourceOptions {
  name: string;
  priority: number;
  /** `sqlite:<file>` or `postgres://…`. */
  url: string;
  listQuery: string;
  passwordQuery?: string;
  authQuery?: string;
  fetchSize: number;
  timeoutMs: number;
  /** Relative SQLite paths are resolved against this (the data directory). */
  baseDir: string;
}

interface Query {
  text: string;
  order: SqlParam[];
}

/**
 * Users from an SQL database (a practice's own user table). Listing streams: SQLite through a
 * statement iterator on its own read-only connection, PostgreSQL through a cursor fetched
 * `fetchSize` rows at a time, so memory stays flat for any number of users. Authentication
 * either reads a password hash (`passwordQuery`) and checks it here, or lets the database
 * decide (`authQuery`, e.g. with pgcrypto's crypt()).
 */
export class SqlSource implements UserSource {
  readonly type = 'sql';
  readonly name: string;
  readonly priority: number;
  private readonly dialect: 'sqlite' | 'postgres';
  private readonly list_: Query;
  private readonly auth: { kind: 'password' | 'auth'; q: Query };
  private sqlite: Sqlite.Database | undefined;
  private pool: pg.Pool | undefined;
  private readonly file: string = '';

  constructor(private readonly opts: SqlSourceOptions) {
    this.name = opts.name;
    this.priority = opts.priority;
    this.dialect = opts.url.startsWith('sqlite:') ? 'sqlite' : 'postgres';
    if (this.dialect === 'sqlite') {
      const f = opts.url.slice('sqlite:'.length);
      this.file = isAbsolute(f) ? f : resolve(opts.baseDir, f);
    }
    this.list_ = bindParams(opts.listQuery, this.dialect);
    if (this.list_.order.length) throw new Error(`source ${opts.name}: the list query takes no parameters`);
    const authText = opts.passwordQuery ?? opts.authQuery;
    if (!authText) throw new Error(`source ${opts.name}: needs passwordQuery or authQuery`);
    this.auth = { kind: opts.passwordQuery ? 'password' : 'auth', q: bindParams(authText, this.dialect) };
    if (this.auth.kind === 'password' && this.auth.q.order.includes('password')) {
      throw new Error(`source ${opts.name}: passwordQuery must not send the password to the database (use authQuery for that)`);
    }
  }

  private openSqlite(): Sqlite.Database {
    // Read-only: a user source is never written to by Postamt.
    return new Sqlite(this.file, { readonly: true, fileMustExist: true, timeout: this.opts.timeoutMs });
  }

  private pgPool(): pg.Pool {
    this.pool ??= new pg.Pool({
      connectionString: this.opts.url,
      max: 4,
      connectionTimeoutMillis: this.opts.timeoutMs,
      statement_timeout: this.opts.timeoutMs,
      idleTimeoutMillis: 30_000,
    });
    return this.pool;
  }

  async *list(signal?: AbortSignal): AsyncIterable<IntegrationUser> {
    if (this.dialect === 'sqlite') yield* this.listSqlite(signal);
    else yield* this.listPostgres(signal);
  }

  private async *listSqlite(signal?: AbortSignal): AsyncIterable<IntegrationUser> {
    // Its own connection: an open iterator keeps a connection busy, and auth must go on meanwhile.
    const db = this.openSqlite();
    try {
      const it = db.prepare(this.list_.text).iterate() as IterableIterator<Record<string, unknown>>;
      let n = 0;
      for (const row of it) {
        if ((++n & 1023) === 0) signal?.throwIfAborted();
        yield userFromRow(row);
      }
    } finally {
      db.close();
    }
  }

  private async *listPostgres(signal?: AbortSignal): AsyncIterable<IntegrationUser> {
    const client = await this.pgPool().connect();
    let ok = false;
    try {
      await client.query('BEGIN READ ONLY');
      await client.query(`DECLARE postamt_users NO SCROLL CURSOR FOR ${this.list_.text}`);
      for (;;) {
        signal?.throwIfAborted();
        const res = await client.query<Record<string, unknown>>(`FETCH ${this.opts.fetchSize} FROM postamt_users`);
        for (const row of res.rows) yield userFromRow(row);
        if (res.rows.length < this.opts.fetchSize) break;
      }
      await client.query('COMMIT');
      ok = true;
    } finally {
      if (!ok) await client.query('ROLLBACK').catch(() => undefined);
      // A connection left mid-transaction by an aborted list is not handed out again.
      client.release(!ok);
    }
  }

  private async row(values: Record<SqlParam, string>): Promise<Record<string, unknown> | undefined> {
    const params = paramValues(this.auth.q.order, values);
    if (this.dialect === 'sqlite') {
      this.sqlite ??= this.openSqlite();
      return this.sqlite.prepare(this.auth.q.text).get(...params) as Record<string, unknown> | undefined;
    }
    const res = await this.pgPool().query<Record<string, unknown>>(this.auth.q.text, params);
    return res.rows[0];
  }

  async authenticate(user: string, password: string): Promise<boolean | null> {
    const row = await this.row({ user, password });
    if (!row) return null;
    if (this.auth.kind === 'auth') return truthy(Object.values(row)[0]);
    const hash = Object.entries(row).find(([k]) => k.toLowerCase() === 'password')?.[1];
    if (typeof hash !== 'string' || hash === '') {
      await burnHashCheck(password);
      return false;
    }
    return verifyHash(password, hash);
  }

  async close(): Promise<void> {
    this.sqlite?.close();
    this.sqlite = undefined;
    await this.pool?.end();
    this.pool = undefined;
  }
}
