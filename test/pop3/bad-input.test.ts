import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pop3Fixture, ALICE, PASSWORD, type Pop3Fixture } from '../helpers/pop3-fixture.js';
import { RawPop3Client } from '../helpers/net.js';
import { encodeSaslPlain } from '../../src/wire/index.js';
import { LoginThrottle } from '../../src/core/index.js';

/**
 * What no well-behaved client sends: bad bytes, bad order, floods, and attacks. A raw socket
 * sends it; every wait is on a reply line or on the server closing the connection.
 */
describe('POP3 server under bad input (SQLite)', { concurrency: true }, () => {
  let fx: Pop3Fixture;
  before(async () => {
    fx = (await pop3Fixture('sqlite', { maxAuthFailures: 3, authFailureDelayMs: 60, maxLineLength: 128 }))!;
    await fx.deliver(fx.alice, 'Subject: hi\r\n\r\nhello\r\n');
  });
  after(async () => fx.close());

  async function client(port = fx.plainPort): Promise<RawPop3Client> {
    const c = await RawPop3Client.connect(port);
    assert.equal(await c.line(), '+OK pop.test.local POP3 ready');
    return c;
  }

  test('an over-long line is refused and dropped, the session goes on', async () => {
    const c = await client();
    assert.equal(await c.cmd(`USER ${'x'.repeat(500)}`), '-ERR line too long');
    // The same, arriving in pieces and without a line end for a while.
    c.write('NOOP ' + 'y'.repeat(200));
    c.write('z'.repeat(200));
    c.write(' still the same line\r\nCAPA\r\n');
    assert.equal(await c.line(), '-ERR line too long');
    assert.equal(await c.line(), '+OK capability list follows');
    await c.body();
    // Exactly at the limit (126 octets + CRLF = 128) is fine.
    const user = 'u'.repeat(126 - 'USER '.length);
    assert.equal(await c.cmd(`USER ${user}`), '+OK send PASS');
    assert.match(await c.cmd('QUIT'), /^\+OK/);
  });

  test('NUL bytes, control characters, bad UTF-8 and unknown commands get clear errors', async () => {
    const c = await client();
    assert.equal(await c.cmd('USER ali\0ce'), '-ERR NUL bytes are not allowed');
    assert.equal(await c.cmd('USER a\x1bb'), '-ERR control characters are not allowed');
    c.write(Buffer.from([0x50, 0x41, 0x53, 0x53, 0x20, 0xc3, 0x28, 0x0d, 0x0a]));
    assert.equal(await c.line(), '-ERR line is not valid UTF-8');
    assert.equal(await c.cmd('XYZZY'), '-ERR unknown command');
    assert.equal(await c.cmd(''), '-ERR empty command');
    assert.equal(await c.cmd('RETR'), '-ERR RETR needs a message number');
    assert.equal(await c.cmd('RETR one'), '-ERR RETR: "one" is not a message number');
    assert.equal(await c.cmd('STAT 1'), '-ERR STAT takes no arguments');
    assert.match(await c.cmd('QUIT'), /^\+OK/);
  });

  test('failed logins from one address slow down across connections (shared throttle)', async () => {
    const throttle = new LoginThrottle({ windowMs: 60_000, freeFailures: 1, baseDelayMs: 400, maxDelayMs: 5000 });
    const { port } = await fx.server('starttls', {}, { throttle });
    const timeFailure = async (): Promise<number> => {
      const c = await client(port);
      c.write(`USER ${ALICE}\r\n`);
      await c.line();
      const t0 = performance.now();
      c.write('PASS wrong-guess\r\n');
      assert.match(await c.line(), /^-ERR \[AUTH\]/);
      c.close();
      return performance.now() - t0;
    };
    const first = await timeFailure();
    const second = await timeFailure();
    assert.ok(first < 350, `the first failure costs only the base delay (${first.toFixed(0)} ms)`);
    assert.ok(second >= 390, `a new connection does not reset the penalty (${second.toFixed(0)} ms)`);
  });

  test('commands in the wrong state are refused', async () => {
    const c = await client();
    assert.equal(await c.cmd('STAT'), '-ERR STAT is not allowed before login');
    assert.equal(await c.cmd('RETR 1'), '-ERR RETR is not allowed before login');
    assert.equal(await c.cmd('PASS secret'), '-ERR send USER first');
    // PASS must follow USER directly.
    await c.cmd(`USER ${ALICE}`);
    await c.cmd('CAPA');
    await c.body();
    assert.equal(await c.cmd(`PASS ${PASSWORD}`), '-ERR send USER first');
    await c.login(ALICE, PASSWORD);
    assert.equal(await c.cmd(`USER ${ALICE}`), '-ERR USER is not allowed after login');
    assert.equal(await c.cmd('STLS'), '-ERR STLS is not allowed after login');
    assert.equal(await c.cmd('RETR 7'), '-ERR no such message, only 1 in maildrop');
    assert.match(await c.cmd('QUIT'), /^\+OK/);
  });

  test('pipelined commands are answered in order', async () => {
    const c = await client();
    c.write(`CAPA\r\nUSER ${ALICE}\r\nPASS ${PASSWORD}\r\nSTAT\r\nLIST\r\nBOGUS\r\nUIDL 1\r\nRETR 1\r\nNOOP\r\nQUIT\r\n`);
    assert.equal(await c.line(), '+OK capability list follows');
    assert.ok((await c.body()).includes('PIPELINING'));
    assert.equal(await c.line(), '+OK send PASS');
    assert.match(await c.line(), /^\+OK alice@test\.local has 1 messages/);
    assert.match(await c.line(), /^\+OK 1 \d+$/);
    assert.match(await c.line(), /^\+OK 1 messages/);
    assert.equal((await c.body()).length, 1);
    assert.equal(await c.line(), '-ERR unknown command');
    assert.match(await c.line(), /^\+OK 1 m/);
    assert.match(await c.line(), /^\+OK \d+ octets$/);
    assert.deepEqual(await c.body(), ['Subject: hi', '', 'hello']);
    assert.equal(await c.line(), '+OK');
    assert.match(await c.line(), /^\+OK .*signing off/);
    await c.waitClosed();
  });

  test('a client that sends its commands and shuts its side still gets all answers', async () => {
    const c = await client();
    c.socket.end(`USER ${ALICE}\r\nPASS ${PASSWORD}\r\nSTAT\r\nQUIT\r\n`);
    const all = await c.rest();
    assert.match(all, /^\+OK send PASS\r\n\+OK .*\r\n\+OK 1 \d+\r\n\+OK .*signing off.*\r\n$/);
  });

  test('STLS: pipelined plaintext after it is discarded, and there is no second STLS', async () => {
    const c = await client();
    // An attacker in the middle appends USER to the client's STLS; it must not survive TLS.
    c.write(`STLS\r\nUSER ${ALICE}\r\n`);
    assert.equal(await c.line(), '+OK begin TLS negotiation');
    await c.startTls();
    assert.equal(await c.cmd(`PASS ${PASSWORD}`), '-ERR send USER first');
    assert.equal(await c.cmd('STLS'), '-ERR already using TLS');
    await c.login(ALICE, PASSWORD);
    assert.match(await c.cmd('STAT'), /^\+OK 1 /);
    assert.match(await c.cmd('QUIT'), /^\+OK/);
  });

  test('AUTH PLAIN: initial response, continuation, cancel, malformed input, foreign authzid', async () => {
    const good = encodeSaslPlain({ authcid: ALICE, password: PASSWORD });
    const c = await client();
    assert.equal(await c.cmd('AUTH CRAM-MD5'), '-ERR unsupported SASL mechanism; use PLAIN');
    assert.equal(await c.cmd('AUTH PLAIN'), '+ ');
    assert.equal(await c.cmd('*'), '-ERR authentication cancelled');
    assert.equal(await c.cmd('AUTH PLAIN'), '+ ');
    assert.equal(await c.cmd('not base64!'), '-ERR malformed base64 in SASL response');
    assert.equal(await c.cmd('AUTH PLAIN ===='), '-ERR malformed base64 in SASL response');
    assert.equal(await c.cmd(`AUTH PLAIN ${Buffer.from('no nul here').toString('base64')}`), '-ERR SASL PLAIN needs exactly authzid NUL authcid NUL password');
    assert.equal(await c.cmd('AUTH PLAIN ='), '-ERR malformed base64 in SASL response');
    const foreign = encodeSaslPlain({ authzid: 'bob@test.local', authcid: ALICE, password: PASSWORD });
    assert.equal(await c.cmd(`AUTH PLAIN ${foreign}`), '-ERR [AUTH] authorization identity not permitted');
    assert.equal(await c.cmd('AUTH PLAIN'), '+ ');
    assert.match(await c.cmd(good), /^\+OK alice@test\.local has 1 messages/);
    assert.match(await c.cmd('QUIT'), /^\+OK/);

    const d = await client();
    const self = encodeSaslPlain({ authzid: ALICE, authcid: ALICE, password: PASSWORD });
    assert.match(await d.cmd(`AUTH PLAIN ${self}`), /^\+OK/, 'authzid equal to authcid is fine');
    await d.cmd('QUIT');
  });

  test('brute force: failures are delayed, the last one closes, others are still served', async () => {
    const c = await client();
    await c.cmd(`USER ${ALICE}`);
    assert.equal(await c.cmd('PASS wrong 1'), '-ERR [AUTH] invalid user name or password');
    await c.cmd(`USER ${ALICE}`);
    assert.equal(await c.cmd('PASS wrong 2'), '-ERR [AUTH] invalid user name or password');
    assert.equal(await c.cmd(`AUTH PLAIN ${encodeSaslPlain({ authcid: ALICE, password: 'wrong 3' })}`), '-ERR [AUTH] too many failures, closing connection');
    await c.waitClosed();

    const other = await client();
    await other.login(ALICE, PASSWORD);
    assert.match(await other.cmd('QUIT'), /^\+OK/);
  });

  test('a failed login is answered only after authFailureDelayMs', async () => {
    // Longer than a password check takes, so the delay is what is measured.
    const { port } = await fx.server('starttls', { authFailureDelayMs: 400 });
    const c = await client(port);
    await c.cmd(`USER ${ALICE}`);
    const started = Date.now();
    assert.equal(await c.cmd('PASS wrong'), '-ERR [AUTH] invalid user name or password');
    assert.ok(Date.now() - started >= 400, `answered after ${Date.now() - started} ms`);
    const okStarted = Date.now();
    await c.cmd(`USER ${ALICE}`);
    assert.match(await c.cmd(`PASS ${PASSWORD}`), /^\+OK/);
    assert.ok(Date.now() - okStarted < 400, 'a good login is not delayed');
    await c.cmd('QUIT');
  });

  test('too many bad commands in a row close the connection', async () => {
    const c = await client();
    for (let i = 0; i < 9; i++) assert.equal(await c.cmd(`BAD${i}`), '-ERR unknown command');
    // A good command resets the count.
    assert.match(await c.cmd('CAPA'), /^\+OK/);
    await c.body();
    for (let i = 0; i < 9; i++) await c.cmd('STAT');
    c.write('STAT\r\nCAPA\r\n');
    assert.equal(await c.line(), '-ERR STAT is not allowed before login');
    assert.equal(await c.rest(), '-ERR too many bad commands, closing connection\r\n');
  });

  test('idle timeout closes with -ERR idle timeout; the server keeps serving', async () => {
    const { port } = await fx.server('starttls', { idleTimeoutMs: 200 });
    const c = await client(port);
    await c.login(ALICE, PASSWORD);
    const started = Date.now();
    assert.equal(await c.rest(), '-ERR idle timeout\r\n');
    assert.ok(Date.now() - started >= 150);
    const d = await client(port);
    await d.login(ALICE, PASSWORD);
    assert.match(await d.cmd('QUIT'), /^\+OK/);
  });

  test('a client trickling a command a byte at a time is cut off at the idle timeout all the same (issue 17 fault 3)', async () => {
    const { port } = await fx.server('starttls', { idleTimeoutMs: 800 });
    const c = await client(port);
    const started = Date.now();
    const { closedFirst } = await c.trickle(`USER ${'slow'.repeat(20)}`, 100);
    assert.ok(closedFirst, 'bytes that complete no line do not keep the session');
    assert.equal(await c.rest(), '-ERR idle timeout\r\n');
    assert.ok(Date.now() - started < 3000);
  });

  test('connections per client address are limited with [SYS/TEMP]; other addresses are served (issue 17 fault 3)', async () => {
    const { port } = await fx.server('starttls', { maxConnectionsPerAddress: 1, connectionLimitExceptions: [] });
    const a = await RawPop3Client.connect(port, { localAddress: '127.0.0.2' });
    assert.match(await a.line(), /^\+OK/);
    const over = await RawPop3Client.connect(port, { localAddress: '127.0.0.2' });
    assert.equal(await over.rest(), '-ERR [SYS/TEMP] too many connections from your address, try again later\r\n');
    const other = await RawPop3Client.connect(port, { localAddress: '127.0.0.3' });
    assert.match(await other.line(), /^\+OK/);
    a.close();
    other.close();
  });

  test('idle timeout also ends a stalled TLS handshake on the implicit listener', async () => {
    const { port } = await fx.server('implicit', { idleTimeoutMs: 200 });
    // A plain TCP client never starts the handshake.
    const c = await RawPop3Client.connect(port);
    assert.equal(await c.rest(), '');
  });

  test('the connection limit refuses with [SYS/TEMP], and frees up when a session ends', async () => {
    const { port } = await fx.server('starttls', { maxConnections: 2 });
    const a = await client(port);
    const b = await client(port);
    const c = await RawPop3Client.connect(port);
    assert.equal(await c.rest(), '-ERR [SYS/TEMP] too many connections, try again later\r\n');
    await a.cmd('QUIT');
    await a.waitClosed();
    // The server counts the session as gone once its close was handled; retry until then.
    let d: RawPop3Client | undefined;
    for (let i = 0; i < 50 && !d; i++) {
      const x = await RawPop3Client.connect(port);
      const first = await x.line().catch(() => '');
      if (first.startsWith('+OK')) d = x;
      else await x.waitClosed();
    }
    assert.ok(d, 'a new connection is accepted after one ended');
    await d.cmd('QUIT');
    await b.cmd('QUIT');
  });

  test('the connection limit on the implicit-TLS listener answers inside TLS', async () => {
    const { port } = await fx.server('implicit', { maxConnections: 1 });
    const a = await RawPop3Client.connect(port, { tls: true });
    assert.match(await a.line(), /^\+OK/);
    const b = await RawPop3Client.connect(port, { tls: true });
    assert.equal(await b.rest(), '-ERR [SYS/TEMP] too many connections, try again later\r\n');
    await a.cmd('QUIT');
  });

  test('a failed TLS handshake after STLS closes quietly; the server keeps serving', async () => {
    const c = await client();
    assert.equal(await c.cmd('STLS'), '+OK begin TLS negotiation');
    c.write('this is not a ClientHello\r\n\r\n');
    assert.equal(await c.rest(), '');
    const d = await client();
    await d.login(ALICE, PASSWORD);
    await d.cmd('QUIT');
  });

  test('a backend that fails answers [SYS/TEMP], not a dropped connection', async () => {
    const { port } = await fx.server('starttls', {}, {
      backend: {
        login: () => Promise.reject(new Error('database unreachable')),
      },
    });
    const c = await client(port);
    await c.cmd(`USER ${ALICE}`);
    assert.equal(await c.cmd(`PASS ${PASSWORD}`), '-ERR [SYS/TEMP] temporary failure, try again later');
    assert.match(await c.cmd('QUIT'), /^\+OK/);
  });

  test('maxCommands cuts off a runaway client', async () => {
    const { port } = await fx.server('starttls', { maxCommands: 100 });
    const c = await client(port);
    c.write('CAPA\r\n'.repeat(101));
    for (let i = 0; i < 100; i++) {
      assert.equal(await c.line(), '+OK capability list follows');
      await c.body();
    }
    assert.equal(await c.rest(), '-ERR too many commands, closing connection\r\n');
  });
});
