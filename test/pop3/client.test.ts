import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import nodemailer from 'nodemailer';
import { tempDir, testConfig } from '../helpers/env.js';
import { createLogger } from '../../src/core/index.js';
import { startService, type RunningService } from '../../src/roles/index.js';
import { Pop3Client, Pop3ClientError } from '../../src/pop3/index.js';
import { listenOnLoopback } from '../helpers/net.js';

const PASSWORD = 'a-long-password';

/** A message that exercises the byte-exact path: leading dots, 8-bit, CRLF only. */
function trickyMessage(extraBody = ''): Buffer {
  return Buffer.from(
    'From: anna@praxis.test\r\nTo: bert@praxis.test\r\nSubject: dots\r\n\r\n' +
      '.a line with one leading dot\r\n..two dots\r\n.\r\nnot the end\r\nGr\u00fc\u00dfe \u20ac\r\n' +
      extraBody,
    'utf8',
  );
}

describe('POP3 client against the service', () => {
  const d = tempDir();
  let svc: RunningService;
  const sent: Buffer[] = [];
  before(async () => {
    svc = await startService(testConfig(d.path), createLogger('silent'));
    await svc.accounts.addDomain('praxis.test');
    await svc.accounts.add({ address: 'anna@praxis.test', password: PASSWORD });
    await svc.accounts.add({ address: 'bert@praxis.test', password: PASSWORD });
    const sub = svc.endpoints['smtp-submission']!;
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: sub.port, secure: true, auth: { user: 'anna@praxis.test', pass: PASSWORD }, tls: { ca: svc.tls.cert, servername: 'localhost' } });
    const big = 'x'.repeat(998) + '\r\n';
    for (const raw of [trickyMessage(), trickyMessage(big.repeat(5 * 1024))]) {
      await t.sendMail({ envelope: { from: 'anna@praxis.test', to: ['bert@praxis.test'] }, raw });
      sent.push(raw);
    }
    t.close();
  });
  after(async () => {
    await svc.close();
    d.cleanup();
  });

  const connect = (tls: 'implicit' | 'starttls', extra: Partial<Parameters<typeof Pop3Client.connect>[0]> = {}) => {
    const port = tls === 'implicit' ? svc.endpoints.pop3s!.port : svc.endpoints.pop3!.port;
    return Pop3Client.connect({ host: '127.0.0.1', port, tls, ca: svc.tls.cert, servername: 'localhost', timeoutMs: 5000, ...extra });
  };

  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2035 (client part of USER/PASS; SASL PLAIN not yet)
  test('implicit TLS: login, STAT, LIST, UIDL, RETR byte-exact (dot-unstuffed), TOP', async () => {
    const c = await connect('implicit');
    assert.equal(c.secure, true);
    await c.login('bert@praxis.test', PASSWORD);
    const stat = await c.stat();
    assert.equal(stat.count, 2);
    const list = await c.list();
    const uidl = await c.uidl();
    assert.deepEqual(list.map((x) => x.n), [1, 2]);
    assert.equal(uidl.length, 2);
    for (const { n, size } of list) {
      const msg = await c.retr(n);
      assert.equal(msg.length, size, 'RETR delivers exactly what LIST announced');
      assert.ok(msg.subarray(msg.length - sent[n - 1]!.length).equals(sent[n - 1]!), 'the submitted bytes come back unchanged');
    }
    const top = await c.top(1, 0);
    assert.match(top.toString(), /Subject: dots\r\n\r\n$/);
    await c.quit();
  });

  test('STLS on the plain listener, and the certificate is verified', async () => {
    const c = await connect('starttls');
    assert.equal(c.secure, true);
    await c.login('bert@praxis.test', PASSWORD);
    assert.equal((await c.stat()).count, 2);
    await c.quit();
    await assert.rejects(connect('implicit', { ca: undefined }), (e: unknown) => e instanceof Pop3ClientError && e.kind === 'tls');
  });

  test('wrong password: rejected with the server text; DELE and QUIT remove a message', async () => {
    const bad = await connect('implicit');
    await assert.rejects(bad.login('bert@praxis.test', 'wrong'), (e: unknown) => e instanceof Pop3ClientError && e.kind === 'rejected');
    bad.close();
    const c = await connect('implicit');
    await c.login('bert@praxis.test', PASSWORD);
    await assert.rejects(c.retr(3), (e: unknown) => e instanceof Pop3ClientError && e.kind === 'rejected');
    await c.dele(2);
    await assert.rejects(c.retr(2), (e: unknown) => e instanceof Pop3ClientError && e.kind === 'rejected', 'a deleted message is gone for the session');
    await c.quit();
    const again = await connect('implicit');
    await again.login('bert@praxis.test', PASSWORD);
    assert.equal((await again.stat()).count, 1);
    await again.quit();
  });
});

describe('POP3 client against hostile servers', () => {
  /** A fake upstream that plays a script for each connection. */
  async function fakeServer(script: (s: Socket) => void): Promise<{ port: number; server: Server }> {
    const server = createServer((s) => {
      s.on("error", () => undefined);
      script(s);
    });
    return { port: await listenOnLoopback(server), server };
  }
  const plain = (port: number, extra = {}) => Pop3Client.connect({ host: '127.0.0.1', port, tls: 'none', timeoutMs: 500, ...extra });

  test('a server that never greets: timeout error, no hang', async () => {
    const f = await fakeServer(() => undefined);
    await assert.rejects(plain(f.port), (e: unknown) => e instanceof Pop3ClientError && e.kind === 'timeout');
    f.server.close();
  });

  test('a response beyond the size limit is refused', async () => {
    const f = await fakeServer((s) => {
      s.write('+OK hi\r\n');
      s.on('data', () => {
        s.write('+OK here\r\n');
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        for (let i = 0; i < 40; i++) s.write(chunk);
      });
    });
    const c = await plain(f.port, { maxResponseSize: 1024 * 1024 });
    await assert.rejects(c.retr(1), (e: unknown) => e instanceof Pop3ClientError && e.kind === 'too-large');
    await assert.rejects(c.noop(), (e: unknown) => e instanceof Pop3ClientError, 'the connection is unusable afterwards');
    c.close();
    f.server.close();
  });

  test('a connection closed mid-message and garbage status lines are errors', async () => {
    const f = await fakeServer((s) => {
      s.write('+OK hi\r\n');
      s.on('data', (d: Buffer) => {
        if (d.toString().startsWith('NOOP')) s.write('* nonsense\r\n');
        else s.end('+OK partial\r\nFrom: x\r\n');
      });
    });
    const c1 = await plain(f.port);
    await assert.rejects(c1.noop(), (e: unknown) => e instanceof Pop3ClientError && e.kind === 'protocol');
    c1.close();
    const c2 = await plain(f.port);
    await assert.rejects(c2.retr(1), (e: unknown) => e instanceof Pop3ClientError && e.kind === 'network');
    f.server.close();
  });

  // The header promises a timeout on every wait: the STLS handshake is one of them.
  test('a server that accepts STLS and then never answers the handshake: timeout within timeoutMs', async () => {
    let hello = 0;
    const f = await fakeServer((s) => {
      s.write('+OK hi\r\n');
      s.on('data', (d: Buffer) => {
        if (d.toString('latin1') === 'STLS\r\n') s.write('+OK begin TLS negotiation\r\n');
        else hello += d.length; // the ClientHello, never answered
      });
    });
    const started = Date.now();
    await assert.rejects(plain(f.port, { tls: 'starttls' }), (e: unknown) => e instanceof Pop3ClientError && e.kind === 'timeout' && /TLS handshake/.test(e.message));
    const took = Date.now() - started;
    assert.ok(took >= 450 && took < 3000, `failed after ${took} ms (timeoutMs 500)`);
    assert.ok(hello > 0, 'the client did start the handshake');
    f.server.close();
  });

  test('STLS: bytes after the +OK are refused, -ERR is kind rejected, a broken handshake is kind tls', async () => {
    let mode: 'inject' | 'refuse' | 'garbage' = 'inject';
    const f = await fakeServer((s) => {
      s.write('+OK hi\r\n');
      s.on('data', (d: Buffer) => {
        // After the +OK the client's bytes are its ClientHello; "garbage" answers them with text.
        if (d.toString('latin1') !== 'STLS\r\n') return s.end('garbage, not TLS\r\n');
        if (mode === 'inject') s.write('+OK go\r\n+OK injected\r\n');
        else if (mode === 'refuse') s.write('-ERR no TLS here\r\n');
        else s.write('+OK go\r\n');
      });
    });
    await assert.rejects(plain(f.port, { tls: 'starttls' }), (e: unknown) => e instanceof Pop3ClientError && e.kind === 'protocol');
    mode = 'refuse';
    await assert.rejects(plain(f.port, { tls: 'starttls' }), (e: unknown) => e instanceof Pop3ClientError && e.kind === 'rejected');
    mode = 'garbage';
    await assert.rejects(plain(f.port, { tls: 'starttls' }), (e: unknown) => e instanceof Pop3ClientError && e.kind === 'tls');
    f.server.close();
  });

  test('a refused port is a network error', async () => {
    const f = await fakeServer(() => undefined);
    const port = (f.server.address() as { port: number }).port;
    f.server.close();
    await once(f.server, 'close');
    await assert.rejects(plain(port), (e: unknown) => e instanceof Pop3ClientError && e.kind === 'network');
  });
});
