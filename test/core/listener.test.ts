import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { Duplex, Writable } from 'node:stream';
import { Metrics, createLogger, type TlsMode } from '../../src/core/index.js';
import { Accounts, LocalDelivery, Mailboxes, ServicePop3Backend, ServiceSmtpBackend } from '../../src/service/index.js';
import { Directory, DirectoryLdapBackend, directoryOptions } from '../../src/directory/index.js';
import { SmtpListener } from '../../src/smtp/index.js';
import { Pop3Server } from '../../src/pop3/index.js';
import { LdapServer } from '../../src/ldap/index.js';
import { LDAP_OID, decodeLdapResponse, encodeRequest } from '../../src/wire/ldap/index.js';
import type { PemPair } from '../../src/crypto/index.js';
import { openTestStore, testTls, type TestStore } from '../helpers/env.js';
import { RawClient } from '../helpers/net.js';

// The listener base (core/listener.ts) under each protocol that stands on it: the connection
// limit and its refusal, implicit TLS and TLS failures, graceful close. Real servers over a
// real store, real sockets; every wait is on bytes or a close.

type Protocol = 'smtp' | 'pop3' | 'ldap';
const PROTOCOLS: Protocol[] = ['smtp', 'pop3', 'ldap'];
const HOSTNAME = 'mx.example.test';
const PASSWORD = 'correct horse battery';

/** Sends a command line and returns the first line of the answer (SMTP and POP3 alike). */
async function ask(p: RawClient, text: string): Promise<string> {
  p.write(`${text}\r\n`);
  return p.line();
}

/**
 * The servers' log, read as it is written: a TLS failure is logged where it is counted, and a
 * test waits for that line instead of guessing when the server got round to it.
 */
class LogWatch extends Writable {
  private readonly seen: Array<{ msg: string; listener?: string }> = [];
  private wake: (() => void) | undefined;

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) if (line) this.seen.push(JSON.parse(line) as { msg: string; listener?: string });
    const w = this.wake;
    this.wake = undefined;
    w?.();
    cb();
  }

  /** How many lines `msg` of `listener` were logged so far. */
  count(msg: string, listener: string): number {
    return this.seen.filter((l) => l.msg === msg && l.listener === listener).length;
  }

  /** Waits until `msg` of `listener` was logged `n` times. */
  async until(msg: string, listener: string, n: number): Promise<void> {
    while (this.count(msg, listener) < n) await new Promise<void>((resolve) => (this.wake = resolve));
  }
}

const whoAmI = (id: number): Buffer => encodeRequest({ messageId: id, controls: [], op: { type: 'extended', name: LDAP_OID.whoAmI } });

/** Waits until the protocol's session is running on `p`: its greeting, or for LDAP an answer. */
async function served(protocol: Protocol, p: RawClient): Promise<void> {
  if (protocol === 'ldap') {
    p.socket.write(whoAmI(1));
    const r = decodeLdapResponse(await p.take());
    assert.ok(r.type === 'result' && r.resultCode === 0, 'ldap: WhoAmI answered');
    return;
  }
  assert.match(await p.line(), protocol === 'smtp' ? /^220 / : /^\+OK/);
}

let hello: Promise<Buffer> | undefined;
/**
 * A real TLS ClientHello, caught from Node's client on a stream that goes nowhere: sent on a
 * TCP socket, it makes the server answer and then wait in the middle of the handshake.
 */
function clientHello(): Promise<Buffer> {
  hello ??= new Promise((resolve) => {
    const wire = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        resolve(chunk);
        cb();
        setImmediate(() => client.destroy());
      },
    });
    const client = tlsConnect({ socket: wire, rejectUnauthorized: false, servername: 'localhost' });
    client.on('error', () => undefined);
  });
  return hello;
}

/** Opens a TCP connection and leaves the server in the middle of a TLS handshake (its answer received). */
async function midHandshake(port: number): Promise<RawClient> {
  const p = await RawClient.connect(port);
  p.socket.write(await clientHello());
  await p.bytes();
  return p;
}

/** The bytes a client over the limit hears are the protocol's own refusal. */
function assertRefusal(protocol: Protocol, bytes: Buffer): void {
  if (protocol === 'smtp') return assert.equal(bytes.toString('latin1'), `421 ${HOSTNAME} Too many connected clients, try again in a moment\r\n`);
  if (protocol === 'pop3') return assert.equal(bytes.toString('latin1'), '-ERR [SYS/TEMP] too many connections, try again later\r\n');
  const r = decodeLdapResponse(bytes);
  assert.ok(r.type === 'result' && r.messageId === 0 && r.responseName === LDAP_OID.noticeOfDisconnection && r.resultCode === 51, 'a Notice of Disconnection: busy');
}

interface Running {
  name: string;
  port: number;
  close(graceMs?: number): Promise<void>;
}

describe('core/listener: one listener under SMTP, POP3 and LDAP', () => {
  let ts: TestStore;
  let accounts: Accounts;
  let mailboxes: Mailboxes;
  let directory: Directory;
  let tls: PemPair;
  const metrics = new Metrics();
  const logs = new LogWatch();
  const running: Running[] = [];
  let seq = 0;

  before(async () => {
    ts = (await openTestStore('sqlite'))!;
    accounts = new Accounts(ts.store.db, ts.store.blobs);
    mailboxes = new Mailboxes(ts.store.db, ts.store.blobs);
    await accounts.addDomain('example.test');
    await accounts.add({ address: 'alice@example.test', password: PASSWORD });
    directory = new Directory(ts.store, directoryOptions(ts.config.directory));
    tls = await testTls();
  });
  after(async () => {
    await Promise.all(running.map((r) => r.close(0)));
    await ts.close();
  });

  /** A listener of `protocol` with its own name (so counts are its own) and the given limits. */
  async function listen(protocol: Protocol, tlsMode: TlsMode, limits: { maxConnections?: number; idleTimeoutMs?: number } = {}): Promise<Running> {
    const name = `${protocol}-${tlsMode}-${++seq}`;
    const logger = createLogger('debug', logs);
    let r: Running;
    if (protocol === 'smtp') {
      const smtpLimits = { ...ts.config.service.smtp, ...(limits.maxConnections ? { maxConnections: limits.maxConnections } : {}), ...(limits.idleTimeoutMs ? { socketTimeoutMs: limits.idleTimeoutMs } : {}) };
      const delivery = new LocalDelivery(ts.store.blobs, mailboxes, HOSTNAME, logger);
      const l = new SmtpListener({ name, host: '127.0.0.1', port: 0, tlsMode, tls, auth: false, requireAuth: false, hostname: HOSTNAME, limits: smtpLimits, backend: new ServiceSmtpBackend('mx', accounts, delivery), logger, metrics });
      const { port } = await l.listen();
      r = { name, port, close: (g) => l.close(g) };
    } else if (protocol === 'pop3') {
      const s = new Pop3Server({ name, tlsMode, tls, backend: new ServicePop3Backend(accounts, mailboxes), hostname: HOSTNAME, limits, logger, metrics });
      const { port } = await s.listen();
      r = { name, port, close: (g) => s.close(g) };
    } else {
      const s = new LdapServer({ name, tlsMode, tls, backend: new DirectoryLdapBackend(directory, accounts), limits, logger, metrics });
      const { port } = await s.listen();
      r = { name, port, close: (g) => s.close(g) };
    }
    running.push(r);
    return r;
  }

  const count = (protocol: Protocol, what: string, listener: string): number => metrics.value(`postamt_${protocol}_${what}`, { listener });
  /** Waits for the n-th TLS failure of the listener, then checks it was counted exactly n times. */
  const tlsFailures = async (protocol: Protocol, listener: string, n: number): Promise<void> => {
    await logs.until(`${protocol} tls handshake failed`, listener, n);
    assert.equal(count(protocol, 'tls_failures_total', listener), n);
  };

  for (const protocol of PROTOCOLS) {
    for (const tlsMode of ['starttls', 'implicit'] as const) {
      const implicit = tlsMode === 'implicit';
      test(`${protocol} ${tlsMode}: over the limit the client hears the protocol's refusal${implicit ? ' inside TLS' : ''}; the served one goes on`, async () => {
        const l = await listen(protocol, tlsMode, { maxConnections: 1 });
        const a = await RawClient.connect(l.port, { tls: implicit });
        await served(protocol, a);
        const b = await RawClient.connect(l.port, { tls: implicit });
        assertRefusal(protocol, Buffer.from(await b.rest(), 'latin1'));
        assert.equal(count(protocol, 'connections_refused_total', l.name), 1);
        assert.equal(count(protocol, 'connections_total', l.name), 1);
        assert.equal(count(protocol, 'connections_active', l.name), 1);
        // The first session is unaffected.
        if (protocol === 'ldap') {
          a.socket.write(whoAmI(2));
          assert.equal(decodeLdapResponse(await a.take()).messageId, 2);
        } else assert.match(await ask(a, protocol === 'smtp' ? 'NOOP' : 'CAPA'), protocol === 'smtp' ? /^250 / : /^\+OK/);
        a.close();
      });
    }

    test(`${protocol}: a run of refusals is one 'connection limit reached' line, every one counted`, async () => {
      const l = await listen(protocol, 'starttls', { maxConnections: 1 });
      const a = await RawClient.connect(l.port, { tls: false });
      await served(protocol, a);
      for (let i = 0; i < 3; i++) {
        const b = await RawClient.connect(l.port, { tls: false });
        assertRefusal(protocol, Buffer.from(await b.rest(), 'latin1'));
      }
      assert.equal(count(protocol, 'connections_refused_total', l.name), 3);
      assert.equal(logs.count(`${protocol} connection limit reached`, l.name), 1);
      a.close();
    });

    test(`${protocol} implicit: a FIN during the TLS handshake ends the connection at once, counted once as a TLS failure`, { timeout: 15_000 }, async () => {
      // The idle timeout is far away: the connection must not wait for it.
      const l = await listen(protocol, 'implicit', { idleTimeoutMs: 10 * 60_000 });
      // The server has answered the ClientHello and waits for the client's Finished: FIN instead.
      const p = await midHandshake(l.port);
      p.socket.end();
      await p.waitClosed();
      await tlsFailures(protocol, l.name, 1);
      assert.equal(count(protocol, 'connections_active', l.name), 0);
      // A FIN before the ClientHello is complete: the same.
      const q = await RawClient.connect(l.port);
      q.socket.end(Buffer.from('160301', 'hex'));
      assert.equal((await q.rest()).length, 0, 'nothing is said without a TLS session');
      await tlsFailures(protocol, l.name, 2);
      // Not TLS at all: refused the same way.
      const r = await RawClient.connect(l.port);
      r.socket.write('EHLO client.test\r\nUSER alice\r\n');
      assert.equal((await r.rest()).length, 0);
      await tlsFailures(protocol, l.name, 3);
      // And the listener still serves.
      const ok = await RawClient.connect(l.port, { tls: true });
      await served(protocol, ok);
      ok.close();
    });

    test(`${protocol} starttls: a FIN during the handshake after the protocol's STARTTLS ends the connection at once`, { timeout: 15_000 }, async () => {
      const l = await listen(protocol, 'starttls', { idleTimeoutMs: 10 * 60_000 });
      const startTls = async (): Promise<RawClient> => {
        const p = await RawClient.connect(l.port);
        if (protocol === 'smtp') {
          await p.line();
          assert.match(await ask(p, 'HELO client.test'), /^250 /);
          assert.match(await ask(p, 'STARTTLS'), /^220 /);
        } else if (protocol === 'pop3') {
          await p.line();
          assert.match(await ask(p, 'STLS'), /^\+OK/);
        } else {
          p.socket.write(encodeRequest({ messageId: 1, controls: [], op: { type: 'extended', name: LDAP_OID.startTls } }));
          const r = decodeLdapResponse(await p.take());
          assert.ok(r.type === 'result' && r.resultCode === 0, 'StartTLS accepted');
        }
        return p;
      };
      const p = await startTls();
      p.socket.write(await clientHello());
      await p.bytes();
      p.socket.end();
      await p.waitClosed();
      await tlsFailures(protocol, l.name, 1);
      // Garbage instead of a ClientHello: the same.
      const q = await startTls();
      q.socket.write('this is not a ClientHello\r\n\r\n');
      await q.waitClosed();
      await tlsFailures(protocol, l.name, 2);
    });

    test(`${protocol}: graceful close tells an open session in the protocol's words, refuses new connections, then ends`, async () => {
      const l = await listen(protocol, 'starttls');
      const p = await RawClient.connect(l.port);
      await served(protocol, p);
      await l.close(5_000);
      const said = Buffer.from(await p.rest(), 'latin1');
      if (protocol === 'smtp') assert.equal(said.toString('latin1'), '421 4.3.2 Server shutting down, try again later\r\n');
      if (protocol === 'pop3') assert.equal(said.toString('latin1'), '-ERR [SYS/TEMP] server shutting down\r\n');
      if (protocol === 'ldap') {
        const r = decodeLdapResponse(said);
        assert.ok(r.type === 'result' && r.responseName === LDAP_OID.noticeOfDisconnection && r.resultCode === 52, 'a Notice of Disconnection: unavailable');
      }
      await assert.rejects(RawClient.connect(l.port), /ECONNREFUSED/);
      assert.equal(count(protocol, 'connections_active', l.name), 0);
    });

    test(`${protocol} implicit: a handshake in progress when the listener closes is dropped at once, not counted as a failure`, { timeout: 15_000 }, async () => {
      const l = await listen(protocol, 'implicit', { idleTimeoutMs: 10 * 60_000 });
      const p = await midHandshake(l.port);
      await l.close(60_000);
      await p.waitClosed();
      assert.equal(count(protocol, 'tls_failures_total', l.name), 0);
      assert.equal(logs.count(`${protocol} tls handshake failed`, l.name), 0);
    });
  }

  test('smtp: a message in DATA when the listener closes is accepted before the 421', async () => {
    const l = await listen('smtp', 'starttls');
    const p = await RawClient.connect(l.port);
    await p.line();
    assert.match(await ask(p, 'HELO client.test'), /^250 /);
    assert.match(await ask(p, 'MAIL FROM:<sender@remote.test>'), /^250 /);
    assert.match(await ask(p, 'RCPT TO:<alice@example.test>'), /^250 /);
    assert.match(await ask(p, 'DATA'), /^354 /);
    p.socket.write('Subject: during shutdown\r\n\r\nfirst half\r\n');
    const closing = l.close(10_000);
    p.socket.write('second half\r\n.\r\n');
    assert.match(await p.line(), /^250 2\.6\.0 /);
    assert.equal(await p.line(), '421 4.3.2 Server shutting down, try again later');
    await closing;
  });
});
