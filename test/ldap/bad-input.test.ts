import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import type { Client } from 'ldapts';
import { LDAP_OID, OP, encodePagedResults, encodeRequest, parseFilter, type LdapRequest, type LdapResponse } from '../../src/wire/ldap/index.js';
import { BASE, deepSearch, ldapClient, practice, startLdapFixture, type LdapFixture } from '../helpers/ldap-fixture.js';
import { RawLdapClient } from '../helpers/net.js';

// Hostile and broken input over raw sockets. The edge alone decides these answers, so one real
// store (SQLite) is enough; the backend-dependent behaviour runs on both stores in ldap-server.

const search = (messageId: number, filter: string, extra: Partial<LdapRequest> = {}): LdapRequest => ({
  messageId,
  controls: [],
  op: { type: 'search', baseObject: BASE, scope: 'sub', derefAliases: 0, sizeLimit: 0, timeLimit: 0, typesOnly: false, filter: parseFilter(filter), attributes: ['1.1'] },
  ...extra,
});

function isNotice(r: LdapResponse | null, code: number): boolean {
  return r !== null && r.type === 'result' && r.messageId === 0 && r.responseName === LDAP_OID.noticeOfDisconnection && r.resultCode === code;
}

function resultOf(rs: LdapResponse[]): LdapResponse & { type: 'result' } {
  const last = rs[rs.length - 1]!;
  assert.equal(last.type, 'result');
  return last as LdapResponse & { type: 'result' };
}

describe('LDAP edge under bad input', () => {
  let f: LdapFixture;
  let watcher: Client;

  before(async () => {
    f = (await startLdapFixture('sqlite', async (d) => {
      for (let i = 1; i <= 5; i++) await d.add(practice(i));
    }, { maxRequestSize: 4096 }))!;
    // A well-behaved client that stays connected through everything below.
    watcher = await ldapClient(f.ldapUrl);
    assert.equal((await watcher.search(BASE, { filter: '(uid=uid-0001)' })).searchEntries.length, 1);
  });
  after(async () => {
    // Still served after all the abuse, on the connection it opened first.
    assert.equal((await watcher.search(BASE, { filter: '(uid=uid-0002)' })).searchEntries.length, 1);
    await watcher.unbind();
    await f.close();
  });

  /** Sends `bytes`, expects a Notice of Disconnection with `code` and the connection closed. */
  async function expectDisconnect(bytes: Buffer, code = 2): Promise<void> {
    const c = await RawLdapClient.connect(f.ldapPort);
    c.send(bytes);
    const r = await c.next();
    assert.ok(isNotice(r, code), `notice of disconnection expected, got ${JSON.stringify(r)}`);
    await c.waitClosed();
  }

  test('malformed BER: wrong lengths inside, not LDAP at all, indefinite length', async () => {
    await expectDisconnect(Buffer.from([0x30, 0x06, 0x02, 0x01, 0x01, 0x60, 0x09, 0x02]));
    await expectDisconnect(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await expectDisconnect(Buffer.from([0x30, 0x80, 0x02, 0x01, 0x01, 0x42, 0x00, 0x00, 0x00]));
    await expectDisconnect(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00]).subarray(0, 5)); // message ID 0 is reserved
  });

  test('huge lengths: refused from the header, and a real oversized request too', async () => {
    await expectDisconnect(Buffer.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01]));
    await expectDisconnect(Buffer.from([0x30, 0x88, 1, 2, 3, 4, 5, 6, 7, 8]));
    const big = search(5, `(cn=${'x'.repeat(5000)})`);
    await expectDisconnect(encodeRequest(big));
  });

  test('a truncated message is waited for; when the client gives up the server just closes', async () => {
    const c = await RawLdapClient.connect(f.ldapPort);
    const whole = encodeRequest(search(1, '(uid=uid-0001)'));
    c.send(whole.subarray(0, whole.length - 3));
    c.socket.end();
    assert.equal(await c.next(), null);
    await c.waitClosed();
  });

  test('unknown protocolOp and a response sent as a request: Notice of Disconnection', async () => {
    await expectDisconnect(Buffer.from([0x30, 0x05, 0x02, 0x01, 0x07, 0x5e, 0x00])); // [APPLICATION 30]
    await expectDisconnect(Buffer.from([0x30, 0x0c, 0x02, 0x01, 0x07, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00])); // a BindResponse
  });

  test('a deeply nested filter gets protocolError for that search; the connection goes on', async () => {
    const c = await RawLdapClient.connect(f.ldapPort);
    c.send(deepSearch(2000));
    const r = await c.next();
    // 2000 levels of NOT take 2 bytes each plus lengths: over the 4 KiB request limit here.
    assert.ok(isNotice(r, 2), JSON.stringify(r));
    await c.waitClosed();
    const d = await RawLdapClient.connect(f.ldapPort);
    d.send(deepSearch(200));
    const res = resultOf(await d.until(42));
    assert.equal(res.op, OP.searchResultDone);
    assert.equal(res.resultCode, 2);
    assert.match(res.diagnosticMessage, /nested deeper/);
    d.send(search(43, '(uid=uid-0003)'));
    const ok = await d.until(43);
    assert.equal(ok.filter((x) => x.type === 'entry').length, 1);
    assert.equal(resultOf(ok).resultCode, 0);
    d.close();
  });

  test('controls: unknown critical → unavailableCriticalExtension, unknown non-critical ignored, bad paged value → protocolError', async () => {
    const c = await RawLdapClient.connect(f.ldapPort);
    c.send(search(1, '(uid=uid-0001)', { controls: [{ type: '1.2.3.4.5', critical: true }] }));
    assert.equal(resultOf(await c.until(1)).resultCode, 12);
    c.send(search(2, '(uid=uid-0001)', { controls: [{ type: '1.2.3.4.5', critical: false }] }));
    assert.equal(resultOf(await c.until(2)).resultCode, 0);
    c.send(search(3, '(uid=uid-0001)', { controls: [{ type: LDAP_OID.pagedResults, critical: true, value: Buffer.from([1, 2, 3]) }] }));
    assert.equal(resultOf(await c.until(3)).resultCode, 2);
    // A cookie this connection never handed out.
    c.send(search(4, '(uid=uid-0001)', { controls: [encodePagedResults({ size: 1, cookie: Buffer.from('forged-cookie') })] }));
    assert.equal(resultOf(await c.until(4)).resultCode, 53);
    c.close();
  });

  test('a paged-results cookie is bound to its connection and to its search', async () => {
    const a = await RawLdapClient.connect(f.ldapPort);
    a.send(search(1, '(uid=uid-*)', { controls: [encodePagedResults({ size: 2, cookie: Buffer.alloc(0) })] }));
    const first = await a.until(1);
    assert.equal(first.filter((x) => x.type === 'entry').length, 2);
    const cookieControl = resultOf(first).controls[0]!;
    const { decodePagedResults } = await import('../../src/wire/ldap/index.js');
    const cookie = decodePagedResults(cookieControl).cookie;
    assert.ok(cookie.length > 0);
    const b = await RawLdapClient.connect(f.ldapPort);
    b.send(search(1, '(uid=uid-*)', { controls: [encodePagedResults({ size: 2, cookie })] }));
    assert.equal(resultOf(await b.until(1)).resultCode, 53, 'another connection cannot use it');
    a.send(search(2, '(uid=uid-0*)', { controls: [encodePagedResults({ size: 2, cookie })] }));
    assert.equal(resultOf(await a.until(2)).resultCode, 53, 'another filter cannot use it');
    a.close();
    b.close();
  });

  test('binds: SASL, LDAPv2, name without password, unknown extended operation', async () => {
    const c = await RawLdapClient.connect(f.ldapPort);
    c.send({ messageId: 1, controls: [], op: { type: 'bind', version: 3, name: '', auth: { method: 'sasl', mechanism: 'EXTERNAL' } } });
    assert.equal(resultOf(await c.until(1)).resultCode, 7);
    c.send({ messageId: 2, controls: [], op: { type: 'bind', version: 2, name: '', auth: { method: 'simple', password: Buffer.alloc(0) } } });
    assert.equal(resultOf(await c.until(2)).resultCode, 2);
    c.send({ messageId: 3, controls: [], op: { type: 'bind', version: 3, name: `uid=uid-0001,${BASE}`, auth: { method: 'simple', password: Buffer.alloc(0) } } });
    assert.equal(resultOf(await c.until(3)).resultCode, 53);
    c.send({ messageId: 4, controls: [], op: { type: 'extended', name: '1.2.3.4' } });
    const ext = resultOf(await c.until(4));
    assert.equal(ext.op, OP.extendedResponse);
    assert.equal(ext.resultCode, 2);
    c.send({ messageId: 5, controls: [], op: { type: 'bind', version: 3, name: '', auth: { method: 'simple', password: Buffer.alloc(0) } } });
    assert.equal(resultOf(await c.until(5)).resultCode, 0, 'anonymous bind');
    c.close();
  });

  test('abandon: the abandoned search gets no response, the next one does', async () => {
    const c = await RawLdapClient.connect(f.ldapPort);
    // One write: the search is in progress when the abandon is read.
    c.send(Buffer.concat([encodeRequest(search(1, '(uid=*)')), encodeRequest({ messageId: 2, controls: [], op: { type: 'abandon', messageId: 1 } }), encodeRequest(search(3, '(uid=uid-0004)'))]));
    const rs = await c.until(3);
    assert.deepEqual(rs.filter((r) => r.messageId === 1), []);
    assert.equal(rs.filter((r) => r.type === 'entry').length, 1);
    c.close();
  });

  test('StartTLS: refused while operations are outstanding; pipelined data after it disconnects', async () => {
    const c = await RawLdapClient.connect(f.ldapPort);
    c.send(Buffer.concat([encodeRequest(search(1, '(uid=*)')), encodeRequest({ messageId: 2, controls: [], op: { type: 'extended', name: LDAP_OID.startTls } })]));
    const got = [...(await c.until(2))];
    const tlsAnswer = got.find((r) => r.messageId === 2);
    assert.equal(tlsAnswer?.type === 'result' && tlsAnswer.resultCode, 1, 'operationsError');
    c.close();
    await expectDisconnect(Buffer.concat([encodeRequest({ messageId: 1, controls: [], op: { type: 'extended', name: LDAP_OID.startTls } }), encodeRequest(search(2, '(uid=*)'))]));
  });

  test('garbage after a successful StartTLS: the handshake fails and the connection closes', async () => {
    const c = await RawLdapClient.connect(f.ldapPort);
    c.send({ messageId: 1, controls: [], op: { type: 'extended', name: LDAP_OID.startTls } });
    const ok = resultOf(await c.until(1));
    assert.equal(ok.resultCode, 0);
    c.socket.write(encodeRequest(search(2, '(uid=*)'))); // plaintext LDAP where a ClientHello belongs
    await c.waitClosed();
  });

  test('StartTLS then a real handshake works on a raw socket', async () => {
    const c = await RawLdapClient.connect(f.ldapPort);
    c.send({ messageId: 1, controls: [], op: { type: 'extended', name: LDAP_OID.startTls } });
    assert.equal(resultOf(await c.until(1)).resultCode, 0);
    c.socket.removeAllListeners('data');
    const secure = tlsConnect({ socket: c.socket, ca: [f.caPem], servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    secure.destroy();
  });
});

describe('LDAP edge limits', () => {
  test('connection limit: the extra client hears busy and is closed; idle connections get a notice', async () => {
    const f = (await startLdapFixture('sqlite', async () => undefined, { maxConnections: 2, idleTimeoutMs: 400 }))!;
    try {
      const a = await RawLdapClient.connect(f.ldapPort);
      const b = await RawLdapClient.connect(f.ldapPort);
      // Make sure both are registered sessions before the third arrives.
      a.send({ messageId: 1, controls: [], op: { type: 'extended', name: LDAP_OID.whoAmI } });
      b.send({ messageId: 1, controls: [], op: { type: 'extended', name: LDAP_OID.whoAmI } });
      await a.until(1);
      await b.until(1);
      const c = await RawLdapClient.connect(f.ldapPort);
      assert.ok(isNotice(await c.next(), 51));
      await c.waitClosed();
      // Idle: a and b are told and closed.
      assert.ok(isNotice(await a.next(), 52));
      assert.ok(isNotice(await b.next(), 52));
      await a.waitClosed();
    } finally {
      await f.close();
    }
  });

  test('a request trickled a byte at a time is cut off at the request deadline with a notice (issue 17 fault 3)', async () => {
    const f = (await startLdapFixture('sqlite', async () => undefined, { requestTimeoutMs: 800 }))!;
    try {
      const c = await RawLdapClient.connect(f.ldapPort);
      const started = Date.now();
      const { closedFirst } = await c.trickle(encodeRequest(search(1, '(uid=a-slow-search-for-nobody-at-all)')), 100);
      assert.ok(closedFirst, 'bytes that complete no request do not keep the connection');
      assert.ok(isNotice(await c.next(), 52));
      assert.ok(Date.now() - started < 3000);
    } finally {
      await f.close();
    }
  });

  test('connections per client address are limited (busy notice); other addresses are served (issue 17 fault 3)', async () => {
    const f = (await startLdapFixture('sqlite', async () => undefined, { maxConnectionsPerAddress: 1, connectionLimitExceptions: [] }))!;
    try {
      const a = await RawLdapClient.connect(f.ldapPort, { localAddress: '127.0.0.2' });
      a.send({ messageId: 1, controls: [], op: { type: 'extended', name: LDAP_OID.whoAmI } });
      await a.until(1);
      const over = await RawLdapClient.connect(f.ldapPort, { localAddress: '127.0.0.2' });
      assert.ok(isNotice(await over.next(), 51));
      await over.waitClosed();
      const other = await RawLdapClient.connect(f.ldapPort, { localAddress: '127.0.0.3' });
      other.send({ messageId: 1, controls: [], op: { type: 'extended', name: LDAP_OID.whoAmI } });
      assert.equal(resultOf(await other.until(1)).resultCode, 0);
      a.close();
      other.close();
    } finally {
      await f.close();
    }
  });

  test('a simple bind in plaintext off policy: confidentialityRequired; over StartTLS it works', async () => {
    const f = (await startLdapFixture('sqlite', async () => undefined, { allowPlaintextBind: 'never' }))!;
    try {
      const c = await ldapClient(f.ldapUrl);
      await assert.rejects(c.bind(`mail=praxis-a@praxis.kim.test,${BASE}`, 'x'), (e: Error & { code?: number }) => e.code === 13);
      await c.startTLS({ ca: [f.caPem], servername: 'localhost' });
      await c.bind(`mail=praxis-a@praxis.kim.test,${BASE}`, 'correct horse battery');
      await c.unbind();
    } finally {
      await f.close();
    }
  });

  test('requireBind: anonymous searches are refused, the root DSE is still readable', async () => {
    const f = (await startLdapFixture('sqlite', async (d) => void (await d.add(practice(1))), { requireBind: true }))!;
    try {
      const c = await RawLdapClient.connect(f.ldapPort);
      c.send(search(1, '(uid=*)'));
      assert.equal(resultOf(await c.until(1)).resultCode, 50);
      c.send({ messageId: 2, controls: [], op: { type: 'search', baseObject: '', scope: 'base', derefAliases: 0, sizeLimit: 0, timeLimit: 0, typesOnly: false, filter: parseFilter('(objectClass=*)'), attributes: ['namingContexts'] } });
      const rs = await c.until(2);
      assert.equal(rs[0]!.type === 'entry' && rs[0]!.attributes[0]!.values[0]!.toString(), BASE);
      c.close();
    } finally {
      await f.close();
    }
  });
});
