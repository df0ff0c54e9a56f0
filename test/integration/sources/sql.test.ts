import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import argon2 from 'argon2';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { SqlSource, shaCrypt } from '../../../src/integration/index.js';
import { hashPassword } from '../../../src/service/index.js';
import { tempDir, freshPostgres } from '../../helpers/env.js';
import { collect } from '../../helpers/stream.js';

const PASSWORD = 'Passw0rd';

async function checkSql(src: SqlSource, expectFetches: boolean): Promise<void> {
  const users = await collect(src.list());
  assert.equal(users.length, 25);
  assert.deepEqual(users[0], { userName: 'user00', fullName: 'User 00', emailAddresses: ['user00@example.test', 'u00@example.test'] });
  assert.deepEqual(users[24]!.userName, 'user24');
  assert.equal(await src.authenticate('user03', PASSWORD), true);
  assert.equal(await src.authenticate('user03', 'wrong'), false);
  assert.equal(await src.authenticate('nobody', PASSWORD), null);
  void expectFetches;
}

const HASH_KINDS = async (i: number): Promise<string> => {
  switch (i % 4) {
    case 0:
      return bcrypt.hash(PASSWORD, 4);
    case 1:
      return argon2.hash(PASSWORD, { memoryCost: 4096, timeCost: 2 });
    case 2:
      return shaCrypt(PASSWORD, `$6$s${i}`);
    default:
      return hashPassword(PASSWORD, { ln: 10, r: 8, p: 1 });
  }
};

test('sql source on SQLite: list query, password hashes of all kinds, or an auth query', async () => {
  const dir = tempDir();
  try {
    const file = join(dir.path, 'users.db');
    const db = new Sqlite(file);
    db.exec('CREATE TABLE people (id INTEGER PRIMARY KEY, login TEXT, name TEXT, mails TEXT, pw TEXT, clear TEXT)');
    for (let i = 0; i < 25; i++) {
      const n = String(i).padStart(2, '0');
      db.prepare('INSERT INTO people (login, name, mails, pw, clear) VALUES (?, ?, ?, ?, ?)').run(`user${n}`, `User ${n}`, `["user${n}@example.test","u${n}@example.test"]`, await HASH_KINDS(i), PASSWORD);
    }
    db.close();
    const common = { name: 'db', priority: 1, url: 'sqlite:users.db', fetchSize: 7, timeoutMs: 5000, baseDir: dir.path, listQuery: 'SELECT login AS userName, name AS fullName, mails AS emailAddresses FROM people ORDER BY id' };
    const byHash = new SqlSource({ ...common, passwordQuery: "SELECT pw AS password FROM people WHERE login = :user AND login <> ':password'" });
    await checkSql(byHash, false);
    for (let i = 0; i < 4; i++) assert.equal(await byHash.authenticate(`user0${i}`, PASSWORD), true, `hash kind ${i}`);
    await byHash.close();
    const byQuery = new SqlSource({ ...common, authQuery: 'SELECT clear = :password FROM people WHERE login = :user' });
    await checkSql(byQuery, false);
    await byQuery.close();
    assert.throws(() => new SqlSource({ ...common, passwordQuery: 'SELECT pw AS password FROM people WHERE login = :user AND clear = :password' }), /must not send the password/);
    const broken = new SqlSource({ ...common, listQuery: 'SELECT name AS fullName FROM people', passwordQuery: 'SELECT 1' });
    await assert.rejects(collect(broken.list()), /without userName/);
    await broken.close();
  } finally {
    dir.cleanup();
  }
});

test('sql source on PostgreSQL: a cursor fetched in pages, an array column, an auth query', async () => {
  const fresh = await freshPostgres();
  if (!fresh) return;
  const c = new pg.Client({ connectionString: fresh.url });
  await c.connect();
  try {
    await c.query('CREATE TABLE people (id serial PRIMARY KEY, login text, name text, mails text[], pw text, clear text)');
    for (let i = 0; i < 25; i++) {
      const n = String(i).padStart(2, '0');
      await c.query('INSERT INTO people (login, name, mails, pw, clear) VALUES ($1, $2, $3, $4, $5)', [`user${n}`, `User ${n}`, [`user${n}@example.test`, `u${n}@example.test`], await HASH_KINDS(i), PASSWORD]);
    }
    const common = { name: 'pg', priority: 1, url: fresh.url, fetchSize: 7, timeoutMs: 5000, baseDir: '/', listQuery: 'SELECT login AS "userName", name AS fullname, mails AS emailaddresses FROM people ORDER BY id' };
    const byHash = new SqlSource({ ...common, passwordQuery: 'SELECT pw AS password FROM people WHERE login = :user::text' });
    await checkSql(byHash, true);
    for (let i = 0; i < 4; i++) assert.equal(await byHash.authenticate(`user0${i}`, PASSWORD), true, `hash kind ${i}`);
    // A list abandoned half-way releases its connection (the pool has 4): list 6 times partially.
    for (let k = 0; k < 6; k++) {
      for await (const _u of byHash.list()) break;
    }
    assert.equal((await collect(byHash.list())).length, 25);
    await byHash.close();
    const byQuery = new SqlSource({ ...common, authQuery: 'SELECT clear = :password AS ok FROM people WHERE login = :user' });
    await checkSql(byQuery, true);
    await byQuery.close();
    const bad = new SqlSource({ ...common, listQuery: 'SELECT * FROM missing_table', authQuery: 'SELECT 1' });
    await assert.rejects(collect(bad.list()), /missing_table/);
    await bad.close();
  } finally {
    await c.end();
    await fresh.drop();
  }
});
