import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, renameSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import argon2 from 'argon2';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { FileSource, SqlSource, LdapSource, RemoteSource, CombinedSource, verifyHash, hashKind, shaCrypt, verifyShaCrypt, type UserSource } from '../../../src/integration/index.js';
import { hashPassword } from '../../../src/service/index.js';
import { publishAddress } from '../../../src/directory/index.js';
import { tempDir, freshPostgres } from '../../helpers/env.js';
import { startLdapFixture, practice, BASE, BIND_ADDRESS, BIND_PASSWORD } from '../../helpers/ldap-fixture.js';
import { startIntegrationService, addCheapAccounts, SEED_USER, SEED_PASSWORD } from '../../helpers/integration.js';
import { listenOnLoopback } from '../../helpers/net.js';
import { collect } from '../../helpers/stream.js';

const PASSWORD = 'Passw0rd';

test('SHA-crypt: the test vectors of the specification ($5$, $6$, rounds, long salt, too few rounds)', () => {
  const vectors: Array<[string, string]> = [
    ['Hello world!', '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5'],
    ['Hello world!', '$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA'],
    ['This is just a test', '$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5'],
    ['the minimum number is still observed', '$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC'],
    ['Hello world!', '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1'],
    ['Hello world!', '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.'],
    ['a very much longer text to encrypt.  This one even stretches over morethan one line.', '$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1'],
    ['we have a short salt string but not a short password', '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0'],
    ['the minimum number is still observed', '$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.'],
  ];
  for (const [pw, hash] of vectors) {
    assert.ok(verifyShaCrypt(pw, hash), hash);
    assert.equal(verifyShaCrypt(pw + '.', hash), false);
  }
  // rounds below the minimum are raised to 1000, as the spec says
  assert.equal(shaCrypt('the minimum number is still observed', '$5$rounds=10$roundstoolow'), vectors[3]![1]);
  // too many rounds for a foreign hash: refused rather than computed
  assert.equal(verifyShaCrypt('x', '$6$rounds=999999999$salt$' + 'a'.repeat(86)), false);
});

test('hashes of every recognised kind verify, malformed ones and clear text never match', async () => {
  const hashes = {
    scrypt: await hashPassword(PASSWORD, { ln: 10, r: 8, p: 1 }),
    bcrypt2b: await bcrypt.hash(PASSWORD, 4),
    bcrypt2y: (await bcrypt.hash(PASSWORD, 4)).replace(/^\$2b\$/, '$2y$'),
    argon2id: await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 4096, timeCost: 2 }),
    argon2i: await argon2.hash(PASSWORD, { type: argon2.argon2i, memoryCost: 4096, timeCost: 2 }),
    sha512: shaCrypt(PASSWORD, '$6$pepper'),
    sha256: shaCrypt(PASSWORD, '$5$rounds=2000$pepper'),
    openssl: '$6$pepper$opz4X649B0eVH8X3zy04.zQ1GK/0V/5q8WrnSxYQXiWQ9FzmgOjuae.FUtpMBFEOrygy1teUHE8NORksER03m0',
  };
  for (const [kind, h] of Object.entries(hashes)) {
    assert.equal(await verifyHash(PASSWORD, h), true, kind);
    assert.equal(await verifyHash('wrong', h), false, kind);
  }
  assert.deepEqual([hashes.scrypt, hashes.bcrypt2b, hashes.argon2id, hashes.sha512].map(hashKind), ['scrypt', 'bcrypt', 'argon2', 'sha-crypt']);
  for (const bad of [PASSWORD, '', '$2b$04$short', '$argon2id$v=19$garbage', '$6$x$tooshort', '$scrypt$ln=99,r=8,p=1$AA==$AA==', '{SSHA}abc', '$1$md5$x']) {
    assert.equal(await verifyHash(PASSWORD, bad), false, bad);
  }
});

test('file source: documented columns, quoting, comments, bad lines reported, reloaded when replaced', async () => {
  const dir = tempDir();
  try {
    const path = join(dir.path, 'users.csv');
    const bc = await bcrypt.hash(PASSWORD, 4);
    writeFileSync(
      path,
      [
        '# users for the archive',
        'userName,fullName,emailAddresses,password,distinguishedName',
        `john.doe,"Doe, John","john.doe@example.com john@example.com",${bc},"UID=john.doe,DC=example,DC=com"`,
        `jane.doe,Jane Doe,jane.doe@example.com;jane@example.com,${shaCrypt(PASSWORD, '$6$salt')},`,
        'broken,line',
        'nopass,No Password,,,',
        `John.Doe,duplicate,,${bc},`,
        '',
      ].join('\r\n'),
    );
    const src = new FileSource('users', 1, path);
    assert.deepEqual(await collect(src.list()), [
      { userName: 'john.doe', fullName: 'Doe, John', emailAddresses: ['john.doe@example.com', 'john@example.com'], distinguishedName: 'UID=john.doe,DC=example,DC=com' },
      { userName: 'jane.doe', fullName: 'Jane Doe', emailAddresses: ['jane.doe@example.com', 'jane@example.com'] },
      { userName: 'nopass', fullName: 'No Password' },
    ]);
    assert.equal(src.problems.length, 2);
    assert.match(src.problems[0]!, /line 5: 2 fields/);
    assert.match(src.problems[1]!, /line 7: John\.Doe listed twice/);
    assert.equal(await src.authenticate('john.doe', PASSWORD), true);
    assert.equal(await src.authenticate('JOHN.DOE', PASSWORD), true, 'user names are case-insensitive');
    assert.equal(await src.authenticate('jane.doe', 'nope'), false);
    assert.equal(await src.authenticate('nopass', ''), false);
    assert.equal(await src.authenticate('stranger', PASSWORD), null);
    // Replaced the way editors do (write elsewhere, rename over): seen at the next call.
    writeFileSync(path + '.new', `userName;password\nnew.user;${bc}\n`);
    renameSync(path + '.new', path);
    const semi = new FileSource('users', 1, path, ';');
    assert.deepEqual(await collect(semi.list()), [{ userName: 'new.user' }]);
    await assert.rejects(collect(src.list()), /must name the columns/, 'the comma source sees one column "userName;password"');
    writeFileSync(path, `userName,password\nnew.user,${bc}\n`);
    assert.deepEqual(await collect(src.list()), [{ userName: 'new.user' }]);
    assert.equal(await src.authenticate('john.doe', PASSWORD), null, 'john is gone after the reload');
    assert.equal(await src.authenticate('new.user', PASSWORD), true);
    // No userName column, an unclosed quote, a missing file: the source fails instead of listing nothing.
    for (const text of ['name,password\nx,y\n', 'userName\n"open\n', '']) {
      writeFileSync(path, text);
      await assert.rejects(collect(src.list()));
    }
    await assert.rejects(collect(new FileSource('gone', 1, join(dir.path, 'none.csv')).list()));
  } finally {
    dir.cleanup();
  }
});

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

test("ldap source against Postamt's own directory: paged search to list, bind to authenticate", async () => {
  const fx = await startLdapFixture(
    'sqlite',
    async (d) => {
      for (let i = 1; i <= 30; i++) await d.add(practice(i));
      await publishAddress(d, '1-20014711', BIND_ADDRESS, 'Praxis A');
    },
    { sizeLimit: 1000 },
  );
  assert.ok(fx);
  try {
    const opts = {
      name: 'vzd',
      priority: 1,
      url: fx.ldapUrl,
      startTls: false,
      rejectUnauthorized: true,
      baseDn: BASE,
      scope: 'sub' as const,
      filter: '(mail=*)',
      userNameAttribute: 'mail',
      fullNameAttribute: 'displayName',
      emailAttributes: ['mail'],
      userDnTemplate: `mail={user},${BASE}`,
      pageSize: 7,
      timeoutMs: 5000,
    };
    const src = new LdapSource(opts);
    const users = await collect(src.list());
    assert.equal(users.length, 31);
    const a = users.find((u) => u.userName === BIND_ADDRESS)!;
    assert.equal(a.fullName, 'Praxis A');
    assert.deepEqual(a.emailAddresses, [BIND_ADDRESS]);
    assert.match(a.distinguishedName!, /,dc=data,dc=vzd$/i);
    assert.equal(users.find((u) => u.userName === 'praxis-0007@anbieter.kim.telematik')!.fullName, 'Praxis Dr. Muster 0007');
    assert.equal(await src.authenticate(BIND_ADDRESS, BIND_PASSWORD), true);
    assert.equal(await src.authenticate(BIND_ADDRESS, 'wrong password'), false);
    assert.equal(await src.authenticate(BIND_ADDRESS, ''), false, 'an empty password is never an unauthenticated bind');
    assert.equal(await src.authenticate('nobody@praxis.kim.test', BIND_PASSWORD), null);
    assert.equal(await src.authenticate('x)(mail=*', BIND_PASSWORD), null, 'filter metacharacters are escaped');
    // Over StartTLS with the directory's certificate as CA.
    const tls = new LdapSource({ ...opts, startTls: true, ca: fx.caPem });
    assert.equal((await collect(tls.list())).length, 31);
    assert.equal(await tls.authenticate(BIND_ADDRESS, BIND_PASSWORD), true);
    // A server-side size limit is an error, never a short list.
    const limited = await startLdapFixture('sqlite', async (d) => {
      for (let i = 1; i <= 12; i++) await d.add(practice(i));
    }, { sizeLimit: 5 });
    try {
      await assert.rejects(collect(new LdapSource({ ...opts, url: limited!.ldapUrl }).list()));
    } finally {
      await limited!.close();
    }
  } finally {
    await fx.close();
  }
});

test('integration source: a second Postamt endpoint, chained (list, auth, wrong credentials, combined by priority)', async () => {
  const upstream = await startIntegrationService();
  try {
    await addCheapAccounts(upstream.svc, [{ address: 'anna@example.test', displayName: 'Anna' }, { address: 'bert@example.test' }]);
    const opts = { name: 'upstream', priority: 50, url: upstream.url + 'index.php', user: SEED_USER, password: SEED_PASSWORD, rejectUnauthorized: true, timeoutMs: 5000, listTimeoutMs: 5000, maxResponseBytes: 1024 * 1024 };
    const remote = new RemoteSource(opts);
    assert.deepEqual((await collect(remote.list())).map((u) => [u.userName, u.fullName]), [['anna@example.test', 'Anna'], ['bert@example.test', 'bert@example.test']]);
    assert.equal(await remote.authenticate('anna@example.test', 'Passw0rd!'), true);
    assert.equal(await remote.authenticate('anna@example.test', 'nope'), false);
    await assert.rejects(collect(new RemoteSource({ ...opts, password: 'wrong-password' }).list()), /HTTP 401/);
    await assert.rejects(collect(new RemoteSource({ ...opts, maxResponseBytes: 100 }).list()), /maxResponseBytes/);
    await assert.rejects(collect(new RemoteSource({ ...opts, url: 'http://127.0.0.1:1/' }).list()));
    // And a front Postamt serving a file source before the upstream one.
    const front = await startIntegrationService({
      sources: [
        { name: 'local', type: 'file', path: 'users.csv', priority: 10 },
        { name: 'upstream', type: 'integration', url: upstream.url, user: SEED_USER, password: SEED_PASSWORD, priority: 50 },
      ],
    });
    try {
      writeFileSync(join(front.dir, 'users.csv'), `userName,fullName,password\nanna@example.test,Anna (local),${await bcrypt.hash('local-pass', 4)}\ncarl,Carl,\n`);
      const combined = front.svc.integration.sources;
      assert.deepEqual((await collect(combined.list())).map((u) => [u.userName, u.fullName]), [
        ['anna@example.test', 'Anna (local)'],
        ['carl', 'Carl'],
        ['bert@example.test', 'bert@example.test'],
      ]);
      assert.equal(await combined.authenticate('anna@example.test', 'local-pass'), true, 'the file knows anna: it answers');
      assert.equal(await combined.authenticate('anna@example.test', 'Passw0rd!'), false, 'and the upstream is not asked');
      assert.equal(await combined.authenticate('bert@example.test', 'Passw0rd!'), true, 'unknown locally: the upstream answers');
    } finally {
      await front.close();
    }
  } finally {
    await upstream.close();
  }
});

test('integration source: each exchange has one deadline (a dribbling list fails in time), redirects are failures', async () => {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/moved') {
        res.writeHead(301, { location: 'http://elsewhere.test/' });
        return res.end();
      }
      // "[" and then a space every 20 ms: never idle, never finished.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[');
      const t = setInterval(() => res.write(' '), 20);
      res.on('close', () => clearInterval(t));
    });
  });
  const url = `http://127.0.0.1:${await listenOnLoopback(server)}/`;
  const opts = { name: 'slow', priority: 50, url, user: 'u', password: 'p', rejectUnauthorized: true, timeoutMs: 200, listTimeoutMs: 300, maxResponseBytes: 1024 * 1024 };
  try {
    const started = Date.now();
    await assert.rejects(collect(new RemoteSource(opts).list()), /slow: no complete answer to cmd=list within 300 ms/);
    assert.ok(Date.now() - started < 3000);
    await assert.rejects(new RemoteSource(opts).authenticate('a', 'b'), /slow: no complete answer to cmd=auth within 200 ms/);
    await assert.rejects(collect(new RemoteSource({ ...opts, url: url + 'moved' }).list()), /slow: answered 301 .*redirects are not followed/);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('combined source: ascending priority, ties in order, duplicates hidden case-insensitively, unknown everywhere → false', async () => {
  const mk = (name: string, priority: number, names: string[], answers: Record<string, boolean>): UserSource => ({
    name,
    priority,
    type: 'test',
    async *list() {
      for (const n of names) yield { userName: n, fullName: name };
    },
    async authenticate(u: string) {
      return u in answers ? answers[u]! : null;
    },
  });
  const c = new CombinedSource([mk('late', 20, ['a', 'B'], { a: true }), mk('early', 10, ['b', 'c'], { a: false, c: true }), mk('tie', 20, ['d'], {})]);
  assert.deepEqual(c.sources.map((s) => s.name), ['early', 'late', 'tie']);
  assert.deepEqual((await collect(c.list())).map((u) => `${u.userName}/${u.fullName}`), ['b/early', 'c/early', 'a/late', 'd/tie']);
  assert.equal(await c.authenticate('a', 'x'), false);
  assert.equal(await c.authenticate('c', 'x'), true);
  assert.equal(await c.authenticate('zz', 'x'), false);
});
