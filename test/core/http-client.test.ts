import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { tempDir } from '../helpers/env.js';
import { createTestPki } from '../../src/crypto/index.js';
import type { LookupFunction } from 'node:net';
import { httpCall, httpTargetProblem, HttpClientError, type HttpClientRequest, type TargetPolicy } from '../../src/core/index.js';
import { closedPort, listenOnLoopback } from '../helpers/net.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

/** A server that runs `handler` with the whole request body. */
async function httpServer(handler: Handler): Promise<{ url: string; close(): void; connections: () => number }> {
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, res, Buffer.concat(chunks)));
  });
  server.on('connection', () => connections++);
  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}/`,
    connections: () => connections,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

const kindOf = (kind: HttpClientError['kind'], message?: RegExp) => (e: unknown) => e instanceof HttpClientError && e.kind === kind && (!message || message.test(e.message));
const call = (url: string, extra: Partial<HttpClientRequest> = {}) => httpCall({ method: 'GET', url, deadlineMs: 2000, maxResponseBytes: 1024, ...extra });

describe('httpCall over plain HTTP', () => {
  let srv: Awaited<ReturnType<typeof httpServer>>;
  before(async () => {
    srv = await httpServer((req, res, body) => {
      const path = req.url ?? '/';
      if (path === '/echo') {
        res.setHeader('set-cookie', ['a=1', 'b=2']);
        res.setHeader('content-type', 'application/json');
        return res.end(JSON.stringify({ method: req.method, length: req.headers['content-length'], body: body.toString('utf8'), h: req.headers['x-test'] }));
      }
      if (path === '/redirect') {
        res.writeHead(302, { location: 'http://elsewhere.test/' });
        return res.end();
      }
      if (path === '/big') return res.end(Buffer.alloc(5000, 0x61));
      if (path === '/big-chunked') {
        // No content-length: the bound is found while reading.
        for (let i = 0; i < 10; i++) res.write(Buffer.alloc(500, 0x62));
        return res.end();
      }
      if (path === '/dribble') {
        // A byte every 20 ms, never finished: no inactivity timeout would ever fire.
        res.writeHead(200, { 'content-type': 'text/plain' });
        const t = setInterval(() => res.write('.'), 20);
        res.on('close', () => clearInterval(t));
        return;
      }
      if (path === '/cut') {
        res.writeHead(200, { 'content-length': '100' });
        res.write('only part');
        return setImmediate(() => res.destroy());
      }
      if (path === '/silent') return; // never answers
      res.statusCode = 404;
      res.end('no');
    });
  });
  after(() => srv.close());

  test('method, headers, body (with content-length), status and the answer whole; repeated headers joined', async () => {
    const a = await call(srv.url + 'echo', { method: 'POST', headers: { 'x-test': 'yes' }, body: 'grüße' });
    assert.equal(a.status, 200);
    assert.deepEqual(JSON.parse(a.body.toString()), { method: 'POST', length: String(Buffer.byteLength('grüße')), body: 'grüße', h: 'yes' });
    assert.equal(a.headers['set-cookie'], 'a=1, b=2');
    assert.equal(a.headers['content-type'], 'application/json');
    const bytes = await call(srv.url + 'echo', { method: 'PUT', body: new Uint8Array(Buffer.from('raw bytes')) });
    assert.equal(JSON.parse(bytes.body.toString()).body, 'raw bytes');
    assert.equal((await call(srv.url + 'nothing')).status, 404, 'an HTTP error status is an answer, not a failure');
  });

  test('connections are kept alive between calls', async () => {
    const before = srv.connections();
    for (let i = 0; i < 5; i++) await call(srv.url + 'echo');
    assert.ok(srv.connections() - before <= 1, `${srv.connections() - before} new connections for 5 calls`);
  });

  test('redirects are not followed', async () => {
    await assert.rejects(call(srv.url + 'redirect'), kindOf('redirect', /answered 302 \(redirect to http:\/\/elsewhere\.test\/\): redirects are not followed/));
  });

  test('the answer is bounded, by its content-length and while reading', async () => {
    await assert.rejects(call(srv.url + 'big'), kindOf('too-large', /larger than 1024 bytes/));
    await assert.rejects(call(srv.url + 'big-chunked'), kindOf('too-large'));
    assert.equal((await call(srv.url + 'big', { maxResponseBytes: 5000 })).body.length, 5000);
  });

  test('one deadline over the whole exchange: a server that keeps dribbling still fails in time', async () => {
    const started = Date.now();
    await assert.rejects(call(srv.url + 'dribble', { deadlineMs: 300 }), kindOf('timeout', /no complete answer within 300 ms/));
    const took = Date.now() - started;
    assert.ok(took >= 280 && took < 2000, `took ${took} ms`);
    await assert.rejects(call(srv.url + 'silent', { deadlineMs: 200 }), kindOf('timeout'));
  });

  test('an answer cut off, a refused port, an abort', async () => {
    await assert.rejects(call(srv.url + 'cut'), kindOf('cut-off', /broke off/));
    const port = await closedPort();
    await assert.rejects(call(`http://127.0.0.1:${port}/`), kindOf('network', /ECONNREFUSED/));
    const ac = new AbortController();
    const p = call(srv.url + 'silent', { signal: ac.signal });
    ac.abort();
    await assert.rejects(p, kindOf('aborted'));
    await assert.rejects(call(srv.url + 'echo', { signal: AbortSignal.abort() }), kindOf('aborted'), 'aborted before it started');
  });
});

describe('httpCall: the target guard', () => {
  test('http(s) only, no credentials in the URL, hosts on the allow-list', () => {
    assert.equal(httpTargetProblem('http://127.0.0.1/x'), null);
    assert.equal(httpTargetProblem('https://Hooks.Example.test/x', ['hooks.example.test']), null, 'case-insensitive');
    assert.equal(httpTargetProblem('http://[::1]:8080/', ['::1']), null, 'IPv6 literals without brackets');
    assert.match(httpTargetProblem('not a url')!, /is not a URL/);
    assert.match(httpTargetProblem('ftp://127.0.0.1/x')!, /only http:\/\/ and https:\/\/ URLs/);
    assert.match(httpTargetProblem('file:///etc/passwd')!, /only http/);
    assert.match(httpTargetProblem('http://u:p@127.0.0.1/')!, /credentials in the URL/);
    assert.match(httpTargetProblem('http://u@127.0.0.1/')!, /credentials in the URL/);
    assert.equal(httpTargetProblem('https://evil.test/', ['hooks.example.test'], 'x.allowHosts'), 'host evil.test is not in x.allowHosts');
    assert.equal(httpTargetProblem('https://evil.test/', ['hooks.example.test']), 'host evil.test is not in the allow-list');
  });

  test('a refused target is never connected to', async () => {
    let connected = 0;
    const server = createNetServer((s) => {
      connected++;
      s.destroy();
    });
    const port = await listenOnLoopback(server);
    try {
      await assert.rejects(call(`http://127.0.0.1:${port}/`, { allowHosts: ['other.test'], allowHostsName: 'mailin.webhook.allowHosts' }), kindOf('target', /not in mailin\.webhook\.allowHosts/));
      await assert.rejects(call(`http://user:pw@127.0.0.1:${port}/`), kindOf('target'));
      assert.equal(connected, 0);
    } finally {
      server.close();
    }
  });
});

/** A resolver that answers every name with these addresses (as DNS for a name an attacker controls would). */
function resolvesTo(...addresses: string[]): LookupFunction {
  return ((_name: string, options: { all?: boolean }, cb: (err: Error | null, a: unknown, f?: number) => void) => {
    const list = addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    if (options.all) cb(null, list);
    else cb(null, list[0]!.address, list[0]!.family);
  }) as LookupFunction;
}

describe('httpCall: the target policy, checked on the address connected to', () => {
  const strict: TargetPolicy = { allowPrivate: false, allowLoopback: false, ownListeners: [], keys: { private: 'mailin.webhook.allowPrivateTargets', loopback: 'mailin.webhook.allowLoopbackTargets' } };
  let srv: Awaited<ReturnType<typeof httpServer>>;
  let port: number;
  before(async () => {
    srv = await httpServer((_req, res) => res.end('reached'));
    port = Number(new URL(srv.url).port);
  });
  after(() => srv.close());

  test('a name whose DNS answer is refused is never connected to: loopback, metadata, private, mapped forms', async () => {
    const before = srv.connections();
    const url = `http://hooks.example.test:${port}/`;
    await assert.rejects(call(url, { targets: strict, lookup: resolvesTo('127.0.0.1') }), kindOf('target', /^hooks\.example\.test resolves to 127\.0\.0\.1 is a loopback address, called only with mailin\.webhook\.allowLoopbackTargets: true$/));
    await assert.rejects(call(url, { targets: { ...strict, allowLoopback: true, allowPrivate: true }, lookup: resolvesTo('169.254.169.254') }), kindOf('target', /cloud metadata address, which is never called/));
    await assert.rejects(call(url, { targets: { ...strict, allowLoopback: true }, lookup: resolvesTo('::ffff:10.0.0.1') }), kindOf('target', /private address/));
    // One refused address among allowed ones is enough (the client could pick any of them).
    await assert.rejects(call(url, { targets: { ...strict, allowLoopback: true }, lookup: resolvesTo('127.0.0.1', '0.0.0.0') }), kindOf('target', /unspecified/));
    // The system resolver: localhost is checked by name, before any lookup.
    await assert.rejects(call(`http://localhost:${port}/`, { targets: strict }), kindOf('target', /^localhost is loopback: 127\.0\.0\.1 is a loopback address/));
    assert.equal(srv.connections(), before, 'the listener saw no connection');
  });

  test('IP literals are refused before connecting, in every numeric spelling', async () => {
    const before = srv.connections();
    for (const host of ['127.0.0.1', '2130706433', '0x7f.1', '017700000001', '[::ffff:127.0.0.1]']) {
      await assert.rejects(call(`http://${host}:${port}/`, { targets: strict }), kindOf('target', /is a loopback address/), host);
    }
    assert.equal(srv.connections(), before);
  });

  test('loopback is called when allowed, by literal and by a name resolving to it', async () => {
    const open = { ...strict, allowLoopback: true };
    assert.equal((await call(srv.url, { targets: open })).body.toString(), 'reached');
    assert.equal((await call(`http://hooks.example.test:${port}/`, { targets: open, lookup: resolvesTo('127.0.0.1') })).body.toString(), 'reached');
    assert.equal((await call(`http://localhost:${port}/`, { targets: open })).body.toString(), 'reached');
  });

  test("the platform's own listener is refused even with loopback allowed; a kept-alive socket is checked again when reused", async () => {
    const own = { ...strict, allowLoopback: true, allowPrivate: true, ownListeners: [{ host: '127.0.0.1', port }] };
    // Kept-alive connections, made under a policy that allows the target...
    assert.equal((await call(srv.url, { targets: { ...strict, allowLoopback: true } })).status, 200);
    assert.equal((await call(`http://reuse.example.test:${port}/`, { targets: { ...strict, allowLoopback: true }, lookup: resolvesTo('127.0.0.1') })).status, 200);
    const before = srv.connections();
    await assert.rejects(call(srv.url, { targets: own }), kindOf('target', /port \d+ is one of this platform's own listeners/));
    await assert.rejects(call(`http://hooks.example.test:${port}/`, { targets: own, lookup: resolvesTo('127.0.0.1') }), kindOf('target', /own listeners/));
    await assert.rejects(call(`http://localhost:${port}/`, { targets: own }), kindOf('target', /own listeners/));
    // ...then the one reached by name (no literal check before) reused under a stricter policy.
    let lookups = 0;
    const counting: LookupFunction = (name, options, cb) => {
      lookups++;
      resolvesTo('127.0.0.1')(name, options, cb);
    };
    await assert.rejects(call(`http://reuse.example.test:${port}/`, { targets: strict, lookup: counting }), kindOf('target', /127\.0\.0\.1 is a loopback address/));
    assert.equal(lookups, 0, 'refused on the reused socket, not by a new lookup');
    assert.equal(srv.connections(), before, 'no new connection was made for a refused call');
  });
});

describe('httpCall over HTTPS', () => {
  const d = tempDir();
  let ca: string;
  let client: { cert: string; key: string };
  let url: string;
  let mtlsUrl: string;
  const servers: Array<{ close(): void; closeAllConnections(): void }> = [];
  before(async () => {
    const pki = join(d.path, 'pki');
    await createTestPki({ dir: pki, practices: [], tlsNames: ['localhost', '127.0.0.1'] });
    ca = readFileSync(join(pki, 'ca.pem'), 'utf8');
    client = { cert: readFileSync(join(pki, 'tls', 'client.pem'), 'utf8'), key: readFileSync(join(pki, 'tls', 'client.key'), 'utf8') };
    const server = { cert: readFileSync(join(pki, 'tls', 'server.pem'), 'utf8'), key: readFileSync(join(pki, 'tls', 'server.key'), 'utf8') };
    const answer = (req: IncomingMessage, res: ServerResponse) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      res.end(peer && peer.subject ? `client ${peer.subject.CN}` : 'anonymous');
    };
    const plain = createHttpsServer(server, answer);
    const mutual = createHttpsServer({ ...server, ca, requestCert: true, rejectUnauthorized: true }, answer);
    url = `https://localhost:${await listenOnLoopback(plain)}/`;
    mtlsUrl = `https://localhost:${await listenOnLoopback(mutual)}/`;
    servers.push(plain, mutual);
  });
  after(() => {
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    d.cleanup();
  });

  test('verified against the given CA; without it, or for another name, kind tls', async () => {
    assert.equal((await call(url, { tls: { ca } })).body.toString(), 'anonymous');
    await assert.rejects(call(url), kindOf('tls'), "Node's CA store does not know the test CA");
    await assert.rejects(call(url, { tls: { ca, servername: 'other.test' } }), kindOf('tls'));
    assert.equal((await call(url, { tls: { rejectUnauthorized: false } })).status, 200, 'verification off only when asked');
  });

  test('a client certificate for mutual TLS', async () => {
    assert.match((await call(mtlsUrl, { tls: { ca, ...client } })).body.toString(), /^client /);
    await assert.rejects(call(mtlsUrl, { tls: { ca } }), (e: unknown) => e instanceof HttpClientError && (e.kind === 'tls' || e.kind === 'network' || e.kind === 'cut-off'));
  });
});
