import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freshPostgres, tempDir } from '../helpers/env.js';
import { postamt } from '../helpers/process.js';
import { MIGRATION_NAMES } from '../../src/store/migrations/index.js';

// Several nodes on one PostgreSQL start (and upgrade) independently: the schema must come out
// right whichever of them migrates, and a node older than the schema must not write to it.

const SECRET = 'migrations test key, the same on every node 0123456789';

async function appliedMigrations(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<{ name: string }>('select name from kysely_migration order by name')).rows.map((r) => r.name);
  } finally {
    await c.end();
  }
}

test('processes migrating one fresh PostgreSQL database at the same time apply each migration once', { timeout: 60_000 }, async (t) => {
  const db = await freshPostgres();
  if (!db) return t.skip('POSTAMT_TEST_SKIP_PG=1: PostgreSQL tests skipped explicitly');
  const dirs = [tempDir(), tempDir(), tempDir(), tempDir()];
  try {
    // Each its own data directory, as each node has; the same database and key.
    const configs = dirs.map((d) => {
      const file = join(d.path, 'postamt.yaml');
      writeFileSync(file, `dataDir: ${d.path}\nlog: { level: silent }\ndatabase:\n  url: ${db.url}\n  secretKey: ${JSON.stringify(SECRET)}\n`);
      return file;
    });
    const [first, ...others] = configs;
    // Four processes started together, each migrating before it lists; one adds a domain.
    const ran = await Promise.all([postamt(['domain', 'add', 'praxis.test'], { config: first }), ...others.map((c) => postamt(['domain', 'list'], { config: c }))]);
    for (const r of ran) assert.equal(r.code, 0, `every process migrated or found the schema migrated:\n${r.stderr}`);
    assert.deepEqual(await appliedMigrations(db.url), [...MIGRATION_NAMES], 'each migration recorded exactly once');
    const listed = await postamt(['domain', 'list'], { config: others[0], check: true });
    assert.match(listed.stdout, /praxis\.test/, 'the schema works for every node');
  } finally {
    for (const d of dirs) d.cleanup();
    await db.drop();
  }
});

test('a node older than the database refuses to start, saying why', { timeout: 60_000 }, async (t) => {
  const db = await freshPostgres();
  if (!db) return t.skip('POSTAMT_TEST_SKIP_PG=1: PostgreSQL tests skipped explicitly');
  const d = tempDir();
  try {
    const config = join(d.path, 'postamt.yaml');
    writeFileSync(config, `dataDir: ${d.path}\nlog: { level: silent }\ndatabase:\n  url: ${db.url}\n  secretKey: ${JSON.stringify(SECRET)}\n`);
    await postamt(['domain', 'add', 'praxis.test'], { config, check: true });
    // What a newer release leaves behind: a migration this one does not know.
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query(`insert into kysely_migration (name, timestamp) values ('999_future', $1)`, [new Date().toISOString()]);
    await c.end();
    const refused = await postamt(['domain', 'list'], { config });
    assert.notEqual(refused.code, 0, 'the older node does not run on the newer schema');
    assert.match(refused.stderr, /migrated by a newer Postamt \(migration 999_future; this release knows up to \d+_\w+\)/);
    assert.match(refused.stderr, /docs\/operations\.md/);
    assert.deepEqual(await appliedMigrations(db.url), [...MIGRATION_NAMES, '999_future'].sort(), 'the refusing node changed nothing');
  } finally {
    d.cleanup();
    await db.drop();
  }
});
