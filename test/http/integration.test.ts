import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { run } from '../helpers/process.js';
import { untilSteady } from '../helpers/wait.js';
import { startIntegrationService, addCheapAccounts, post, SEED_AUTHORIZATION, type IntegrationService } from '../helpers/integration.js';
import { rawHttp } from '../helpers/net.js';

// The seed's two requests, byte for byte (Content-Length corrected for the auth body).
const SEED_LIST =
  'POST /mailstore-integration/index.php HTTP/1.1\r\n' +
  'Authorization: Basic bWFpbHN0b3JlQGV4YW1wbGUudGVzdDpQYXNzdzByZA==\r\n' +
  'User-Agent: curl/7.22.0 (x86_64-pc-linux-gnu) libcurl/7.22.0 OpenSSL/1.0.1 zlib/1.2.3.4 libidn/1.23 librtmp/2.3\r\n' +
  'Host: mail.example.test\r\n' +
  'Accept: */*\r\n' +
  'Content-Length: 8\r\n' +
  'Content-Type: application/x-www-form-urlencoded\r\n' +
  '\r\n' +
  'cmd=list';
const seedAuth = (body: string) =>
  'POST /mailstore-integration/index.php HTTP/1.1\r\n' +
  'Authorization: Basic bWFpbHN0b3JlQGV4YW1wbGUudGVzdDpQYXNzdzByZA==\r\n' +
  'Host: mail.example.test\r\n' +
  'Accept: */*\r\n' +
  `Content-Length: ${Buffer.byteLength(body)}\r\n` +
  'Content-Type: application/x-www-form-urlencoded\r\n' +
  '\r\n' +
  body;

function split(raw: string): { status: number; headers: string; body: string } {
  const i = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, i);
  let body = raw.slice(i + 4);
  if (/transfer-encoding: chunked/i.test(head)) {
    let out = '';
    for (;;) {
      const nl = body.indexOf('\r\n');
      const n = parseInt(body.slice(0, nl), 16);
      if (!n) break;
      out += body.slice(nl + 2, nl + 2 + n);
      body = body.slice(nl + 2 + n + 2);
    }
    body = out;
  }
  return { status: Number(head.split(' ')[1]), headers: head, body };
}

let it: IntegrationService;
const JOHN = 'john.doe@example.test';
const JANE = 'jane.doe@example.test';

before(async () => {
  it = await startIntegrationService({ userThrottle: { freeFailures: 2, baseDelayMs: 200 }, clientThrottle: { freeFailures: 1000 } });
  await addCheapAccounts(it.svc, [
    { address: JOHN, displayName: 'John Doe' },
    { address: JANE, displayName: 'Jane Doe' },
  ]);
});
after(async () => it.close());

test("the seed's cmd=list request, byte for byte, answers the users as a JSON array", async () => {
  const res = split(await rawHttp(it.port, SEED_LIST));
  assert.equal(res.status, 200);
  assert.match(res.headers, /content-type: application\/json; charset=utf-8/i);
  const users = JSON.parse(res.body) as Array<Record<string, unknown>>;
  assert.deepEqual(users, [
    { userName: JOHN, distinguishedName: `mail=${JOHN},dc=data,dc=vzd`, fullName: 'John Doe', emailAddresses: [JOHN] },
    { userName: JANE, distinguishedName: `mail=${JANE},dc=data,dc=vzd`, fullName: 'Jane Doe', emailAddresses: [JANE] },
  ]);
});

test("the seed's cmd=auth request answers valid JSON {succeeded: true|false}", async () => {
  const ok = split(await rawHttp(it.port, seedAuth(`cmd=auth&user=${encodeURIComponent(JOHN)}&pass=Passw0rd%21`)));
  assert.equal(ok.status, 200);
  assert.deepEqual(JSON.parse(ok.body), { succeeded: true });
  const bad = split(await rawHttp(it.port, seedAuth(`cmd=auth&user=${encodeURIComponent(JANE)}&pass=Passw0rd`)));
  assert.equal(bad.status, 200);
  assert.deepEqual(JSON.parse(bad.body), { succeeded: false });
  const unknown = split(await rawHttp(it.port, seedAuth('cmd=auth&user=nobody&pass=x')));
  assert.deepEqual(JSON.parse(unknown.body), { succeeded: false });
});

test('curl, as in the seed, at the path and at index.php', async () => {
  for (const path of ['', 'index.php']) {
    const r = await run('curl', ['-sS', '-u', 'mailstore@example.test:Passw0rd', '-d', 'cmd=list', '-w', '\n%{http_code} %{content_type}', `${it.url}${path}`]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.pop(), '200 application/json; charset=utf-8');
    assert.deepEqual(
      (JSON.parse(lines.join('\n')) as Array<{ userName: string }>).map((u) => u.userName),
      [JOHN, JANE],
    );
  }
  const auth = await run('curl', ['-sS', '-u', 'mailstore@example.test:Passw0rd', '--data-urlencode', 'cmd=auth', '--data-urlencode', `user=${JOHN}`, '--data-urlencode', 'pass=Passw0rd!', it.url]);
  assert.deepEqual(JSON.parse(auth.stdout), { succeeded: true });
  const denied = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-u', 'mailstore@example.test:wrong', '-d', 'cmd=list', it.url]);
  assert.equal(denied.stdout, '401');
});

test('wrong or missing credentials: 401 with WWW-Authenticate and a JSON body, before the body is looked at', async () => {
  for (const authorization of [
    '',
    'Basic ' + Buffer.from('mailstore@example.test:wrong').toString('base64'),
    'Basic ' + Buffer.from('someone:Passw0rd').toString('base64'),
    'Basic ' + Buffer.from('no-colon-at-all').toString('base64'),
    'Basic !!!not-base64!!!',
    'Bearer abc',
  ]) {
    const r = await post(it.url, 'cmd=list', { authorization });
    assert.equal(r.status, 401, authorization);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Basic realm="postamt-integration"/);
    assert.equal(r.type, 'application/problem+json; charset=utf-8');
    assert.equal((JSON.parse(r.text) as { status: number }).status, 401);
  }
});

test('bad requests: unknown or missing cmd, missing user/pass, repeated parameters → 400 JSON', async () => {
  for (const body of ['', 'cmd=', 'cmd=delete', 'cmd=LIST', 'cmd=auth', 'cmd=auth&user=x', 'cmd=auth&pass=x', 'cmd=auth&user=&pass=x', 'cmd=list&cmd=auth', 'cmd=%zz', '\u0000\u0001garbage']) {
    const r = await post(it.url, body);
    assert.equal(r.status, 400, body);
    assert.equal(r.type, 'application/problem+json; charset=utf-8');
    assert.equal((JSON.parse(r.text) as { status: number }).status, 400);
  }
});

test('wrong method → 405 with Allow: POST; wrong content type → 415', async () => {
  for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
    const r = await fetch(it.url, { method, headers: { authorization: SEED_AUTHORIZATION } });
    assert.equal(r.status, 405, method);
    assert.equal(r.headers.get('allow'), 'POST');
    assert.equal((JSON.parse(await r.text()) as { status: number }).status, 405);
  }
  for (const [type, body] of [
    ['application/json', '{"cmd":"list"}'],
    ['text/plain', 'cmd=list'],
    ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="cmd"\r\n\r\nlist\r\n--x--\r\n'],
  ] as const) {
    const r = await post(it.url, body, { 'content-type': type });
    assert.equal(r.status, 415, type);
    assert.equal((JSON.parse(r.text) as { status: number }).status, 415);
  }
  const none = await fetch(it.url, { method: 'POST', headers: { authorization: SEED_AUTHORIZATION } });
  assert.equal(none.status, 415);
  // A charset parameter is fine.
  const cs = await post(it.url, 'cmd=list', { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' });
  assert.equal(cs.status, 200);
});

test('a huge body is refused with 413 (declared, and chunked without a length)', async () => {
  const big = 'cmd=auth&user=x&pass=' + 'a'.repeat(200 * 1024);
  const r = await post(it.url, big);
  assert.equal(r.status, 413);
  assert.equal((JSON.parse(r.text) as { status: number }).status, 413);
  const s = connect(it.port, '127.0.0.1');
  await once(s, 'connect');
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  s.on('error', () => undefined);
  s.write(`POST /mailstore-integration/ HTTP/1.1\r\nHost: x\r\nAuthorization: ${SEED_AUTHORIZATION}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`);
  const piece = 'a'.repeat(16 * 1024);
  for (let i = 0; i < 8 && !s.destroyed; i++) s.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
  await once(s, 'close');
  assert.match(Buffer.concat(chunks).toString(), /^HTTP\/1\.1 413 /);
});

test('a client that stalls in the middle of its body does not hold up others', async () => {
  const s = connect(it.port, '127.0.0.1');
  await once(s, 'connect');
  s.on('error', () => undefined);
  s.write(`POST /mailstore-integration/ HTTP/1.1\r\nHost: x\r\nAuthorization: ${SEED_AUTHORIZATION}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ncmd=li`);
  const r = await post(it.url, 'cmd=list');
  assert.equal(r.status, 200);
  assert.equal((JSON.parse(r.text) as unknown[]).length, 2);
  s.destroy();
});

test('failed auth calls are slowed per user and a guesser in penalty gets one try at a time (429)', async () => {
  const form = (pass: string) => `cmd=auth&user=${encodeURIComponent(JANE)}&pass=${pass}`;
  for (let i = 0; i < 2; i++) assert.deepEqual(JSON.parse((await post(it.url, form('nope'))).text), { succeeded: false });
  const t0 = performance.now();
  assert.deepEqual(JSON.parse((await post(it.url, form('nope'))).text), { succeeded: false });
  assert.ok(performance.now() - t0 >= 190, 'the third failure is answered only after the penalty');
  // Two at once while in penalty: one is checked (and answered late), the other turned away.
  const both = await Promise.all([post(it.url, form('a')), post(it.url, form('b'))]);
  assert.deepEqual(both.map((r) => r.status).sort(), [200, 429]);
  const turned = both.find((r) => r.status === 429)!;
  assert.ok(Number(turned.headers.get('retry-after')) >= 1);
  assert.equal((JSON.parse(turned.text) as { status: number }).status, 429);
  // Another user is not affected.
  assert.deepEqual(JSON.parse((await post(it.url, `cmd=auth&user=${encodeURIComponent(JOHN)}&pass=Passw0rd%21`)).text), { succeeded: true });
});

test('per client: failures across many user names from one address are slowed too', async () => {
  const other = await startIntegrationService({ userThrottle: { freeFailures: 1000 }, clientThrottle: { freeFailures: 2, baseDelayMs: 200 } });
  try {
    for (let i = 0; i < 2; i++) assert.equal((await post(other.url, `cmd=auth&user=u${i}&pass=x`)).status, 200);
    const t0 = performance.now();
    assert.deepEqual(JSON.parse((await post(other.url, 'cmd=auth&user=u9&pass=x')).text), { succeeded: false });
    assert.ok(performance.now() - t0 >= 190);
  } finally {
    await other.close();
  }
});

test('a source that cannot be read answers 503 before any byte of a list; one failing mid-stream cuts the connection', async () => {
  const missing = await startIntegrationService({ sources: [{ name: 'users', type: 'file', path: 'does-not-exist.csv' }] });
  try {
    const r = await post(missing.url, 'cmd=list');
    assert.equal(r.status, 503);
    assert.equal((JSON.parse(r.text) as { status: number }).status, 503);
    const a = await post(missing.url, 'cmd=auth&user=x&pass=y');
    assert.equal(a.status, 503);
  } finally {
    await missing.close();
  }
  // SQLite raises "malformed JSON" at row 5000, long after the first chunks went out.
  const it2 = await startIntegrationService({
    sources: [
      {
        name: 'db',
        type: 'sql',
        url: 'sqlite:users.db',
        listQuery: "SELECT name AS userName, CASE WHEN id = 5000 THEN json('x') END AS fullName FROM users ORDER BY id",
        passwordQuery: 'SELECT hash AS password FROM users WHERE name = :user',
      },
    ],
  });
  try {
    const db = new Sqlite(join(it2.dir, 'users.db'));
    db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, hash TEXT)');
    const ins = db.prepare('INSERT INTO users (name, hash) VALUES (?, ?)');
    db.transaction(() => {
      for (let i = 1; i <= 10_000; i++) ins.run(`user-${i}-with-a-longer-name@example.test`, '');
    })();
    db.close();
    const r = await fetch(it2.url, { method: 'POST', headers: { authorization: SEED_AUTHORIZATION, 'content-type': 'application/x-www-form-urlencoded' }, body: 'cmd=list' });
    assert.equal(r.status, 200);
    await assert.rejects(r.text(), 'the body must not end as if complete');
    const c = await run('curl', ['-sS', '-o', '/dev/null', '-u', 'mailstore@example.test:Passw0rd', '-d', 'cmd=list', it2.url]);
    assert.notEqual(c.code, 0, 'curl must see a broken transfer');
  } finally {
    await it2.close();
  }
});

test('cmd=list streams with backpressure: a reader that stops makes the server stop pulling users', async () => {
  const it3 = await startIntegrationService({ sources: [{ name: 'users', type: 'file', path: 'users.csv' }], listChunkBytes: 16 * 1024 });
  try {
    const total = 100_000;
    const lines = ['userName,fullName,emailAddresses'];
    for (let i = 0; i < total; i++) lines.push(`user${i},Benutzer Nummer ${i} aus der Praxis,user${i}@example.test alias${i}@example.test`);
    writeFileSync(join(it3.dir, 'users.csv'), lines.join('\n'));
    const pulled = { n: 0 };
    const src = it3.svc.integration.sources.sources[0]!;
    const inner = src.list.bind(src);
    (src as { list: typeof src.list }).list = async function* (signal?: AbortSignal) {
      for await (const u of inner(signal)) {
        pulled.n++;
        yield u;
      }
    };
    const s = connect(it3.port, '127.0.0.1');
    await once(s, 'connect');
    s.write(`POST /mailstore-integration/ HTTP/1.1\r\nHost: x\r\nAuthorization: ${SEED_AUTHORIZATION}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 8\r\nConnection: close\r\n\r\ncmd=list`);
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    await once(s, 'data');
    s.pause();
    // Wait until the server has filled the socket buffers and stopped (the count no longer moves).
    await untilSteady(() => pulled.n);
    assert.ok(pulled.n < total * 0.6, `server pulled ${pulled.n} of ${total} users for a reader that stopped`);
    s.resume();
    await once(s, 'close');
    const body = split(Buffer.concat(chunks).toString('utf8'));
    assert.equal(pulled.n, total);
    assert.equal(body.status, 200);
    assert.equal((JSON.parse(body.body) as unknown[]).length, total);
  } finally {
    await it3.close();
  }
});

test('off loopback the endpoint speaks only HTTPS with the platform certificate (curl verifies it)', async () => {
  // Listening on all interfaces makes the listener "off loopback"; the test still only talks to 127.0.0.1.
  const wide = await startIntegrationService({}, { service: { http: { host: '0.0.0.0', port: 0 } } });
  try {
    assert.match(wide.url, /^https:\/\//);
    const url = `https://127.0.0.1:${wide.port}/mailstore-integration/`;
    const r = await run('curl', ['-sS', '--cacert', wide.svc.tls.certPath, '-u', 'mailstore@example.test:Passw0rd', '-d', 'cmd=list', '-w', '\n%{http_code}', url]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trimEnd().split('\n').pop(), '200');
    // Plain HTTP to the TLS listener gets no answer from the endpoint.
    const plain = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-u', 'mailstore@example.test:Passw0rd', '-d', 'cmd=list', `http://127.0.0.1:${wide.port}/mailstore-integration/`]);
    assert.notEqual(plain.stdout, '200');
  } finally {
    await wide.close();
  }
});
