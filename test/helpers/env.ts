import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createSelfSignedTls, type PemPair } from '../../src/crypto/index.js';
import { hashPassword } from '../../src/service/index.js';
import { parseConfig, type Config } from '../../src/config/index.js';
import { openStore, type Store } from '../../src/store/index.js';

let root: string | undefined;
/**
 * A path in the repository: its root is the nearest directory above this file (test/helpers or
 * dist/test/helpers) with package.json and docs/, so the answer does not depend on the working
 * directory or on how deep the asking test sits.
 */
export function repositoryPath(...parts: string[]): string {
  if (!root) {
    let dir = dirname(fileURLToPath(import.meta.url));
    while (!(existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'docs')))) {
      const up = dirname(dir);
      if (up === dir) throw new Error(`no repository root above ${fileURLToPath(import.meta.url)}`);
      dir = up;
    }
    root = dir;
  }
  return join(root, ...parts);
}

/** A fresh directory under the OS temp dir, removed by `cleanup`. */
export function tempDir(prefix = 'postamt-test-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** A config for tests: everything on 127.0.0.1 with ephemeral ports, quiet logs. */
export function testConfig(dataDir: string, raw: Record<string, unknown> = {}): Config {
  const base = {
    dataDir,
    log: { level: 'silent' },
    service: {
      hostname: 'mx.test.local',
      smtp: { mx: { port: 0 }, submission: { port: 0 }, authFailureDelayMs: 50 },
      pop3: { starttls: { port: 0 }, implicit: { port: 0 }, authFailureDelayMs: 50 },
      http: { port: 0 },
    },
    directory: { ldap: { starttls: { port: 0 }, implicit: { port: 0 } }, bindFailureDelayMs: 50 },
    clientModule: { smtp: { authFailureDelayMs: 50 }, pop3: { authFailureDelayMs: 50 } },
  };
  return parseConfig(deepMerge(base, raw), 'test', {});
}

/** Objects merged key by key (arrays and other values replaced), as testConfig applies its overrides. */
export function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const av = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && av && typeof av === 'object' && !Array.isArray(av)
        ? deepMerge(av as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export const PG_ADMIN_URL = process.env.POSTAMT_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * A fresh, empty PostgreSQL database for one test, dropped afterwards. When PostgreSQL is not
 * reachable this throws (the test fails loudly) unless POSTAMT_TEST_SKIP_PG=1 says to skip.
 */
export async function freshPostgres(): Promise<{ url: string; drop(): Promise<void> } | null> {
  if (process.env.POSTAMT_TEST_SKIP_PG === '1') return null;
  const name = `postamt_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${PG_ADMIN_URL} (${(err as Error).message}). ` +
        'Start it, point POSTAMT_TEST_PG_URL at one, or set POSTAMT_TEST_SKIP_PG=1 to skip PostgreSQL tests explicitly.',
    );
  }
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        // A closed pool's backends can take a moment to exit; FORCE would kill a connection a
        // leak kept open, so wait for them first and only force (loudly) if they stay.
        for (let i = 0; ; i++) {
          try {
            await c.query(`DROP DATABASE IF EXISTS ${name}`);
            return;
          } catch (err) {
            if (!/being accessed by other users/.test((err as Error).message)) throw err;
            if (i >= 50) {
              await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
              throw new Error(`database ${name} still had open connections 5 s after the store closed (a connection leak?)`);
            }
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      } finally {
        await c.end();
      }
    },
  };
}

export type StoreKind = 'sqlite' | 'postgres';
export const STORE_KINDS: StoreKind[] = ['sqlite', 'postgres'];

/**
 * The database.url for a test store of the given kind: SQLite in the data directory, or a fresh
 * PostgreSQL database (with `drop`). Null only when PostgreSQL tests were explicitly skipped.
 */
export async function testDatabase(kind: StoreKind): Promise<{ url: string; drop?: () => Promise<void> } | null> {
  if (kind === 'sqlite') return { url: 'sqlite:postamt.db' };
  return freshPostgres();
}

export interface TestStore {
  store: Store;
  config: Config;
  dir: string;
  close(): Promise<void>;
}

/**
 * Opens a real store of the given kind in a fresh place. Returns null only when PostgreSQL
 * tests were explicitly skipped (the caller then marks its test skipped, visibly).
 */
export async function openTestStore(kind: StoreKind, raw: Record<string, unknown> = {}): Promise<TestStore | null> {
  const db = await testDatabase(kind);
  if (!db) return null;
  const { url, drop } = db;
  const dir = tempDir();
  const config = testConfig(dir.path, { ...raw, database: { url } });
  const store = await openStore(config);
  return {
    store,
    config,
    dir: dir.path,
    close: async () => {
      await store.close();
      await drop?.();
      dir.cleanup();
    },
  };
}

let tlsPair: Promise<PemPair> | undefined;
/** One self-signed pair (localhost, 127.0.0.1) per test process: generating keys is not what the tests test. */
export function testTls(): Promise<PemPair> {
  tlsPair ??= createSelfSignedTls(['localhost', '127.0.0.1']);
  return tlsPair;
}

const cheapHashes = new Map<string, Promise<string>>();
/**
 * A hash of `password` at the lowest cost verifyPassword accepts (scrypt ln=10, 32 times cheaper
 * than production's): the same verification code, at a cost that lets tests log in often. One
 * per password and test process.
 */
export function cheapPasswordHash(password: string): Promise<string> {
  let h = cheapHashes.get(password);
  if (!h) cheapHashes.set(password, (h = hashPassword(password, { ln: 10, r: 8, p: 1 })));
  return h;
}

/**
 * Runs `fn` on a fresh test store of `kind` and closes it afterwards; marks the test skipped
 * when PostgreSQL tests were explicitly skipped.
 */
export async function withTestStore(kind: StoreKind, t: { skip(msg: string): void }, fn: (ts: TestStore) => Promise<void>, raw?: Record<string, unknown>): Promise<void> {
  const ts = await openTestStore(kind, raw);
  if (!ts) return t.skip('POSTAMT_TEST_SKIP_PG=1: PostgreSQL tests skipped explicitly');
  try {
    await fn(ts);
  } finally {
    await ts.close();
  }
}

/** Writes `text` as a blob into the test store; returns its address and size. */
export async function storeBlob(ts: TestStore, text: string): Promise<{ hash: string; size: number }> {
  const w = await ts.store.blobs.writer();
  await w.write(Buffer.from(text));
  return w.commit();
}
