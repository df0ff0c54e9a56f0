import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSmtpFixture, type SmtpFixture } from '../helpers/smtp-fixture.js';
import { pop3Fixture, type Pop3Fixture } from '../helpers/pop3-fixture.js';
import { testTls } from '../helpers/env.js';
import { run } from '../helpers/process.js';
import { parseConfig } from '../../src/config/index.js';
import { serverContextOptions, serverHandshake, type ServerTls } from '../../src/core/index.js';
import { ResumableContexts, type TlsResumption } from '../../src/core/tls-resumption.js';

// TLS session resumption on the implicit-TLS listeners (core/tls-resumption.ts): a second
// connection with the first one's session skips the full handshake, by ticket (TLS 1.3, 1.2)
// and, without tickets, from the session cache (TLS 1.2 session ids).

interface Visit {
  reused: boolean;
  session: Buffer;
  /** The first line the server sent (the 220 or +OK greeting). */
  greeting: string;
}

/** One implicit-TLS connection: its greeting, whether it resumed, and the session to offer next time. */
async function visit(port: number, opts: ConnectionOptions = {}): Promise<Visit> {
  const s = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false, ...opts });
  const session = new Promise<Buffer>((resolve) => s.once('session', resolve));
  await once(s, 'secureConnect');
  const reused = s.isSessionReused();
  const [chunk] = (await once(s, 'data')) as [Buffer];
  // TLS 1.3 tickets arrive after the handshake, TLS 1.2's with it: the session event brings
  // them. A resumed session may bring none (the one offered stays valid).
  const got = reused && opts.session ? opts.session : await session;
  s.destroy();
  return { reused, session: got, greeting: chunk.toString('latin1').split('\r\n')[0]! };
}

describe('TLS session resumption', () => {
  let smtp: SmtpFixture;
  let pop: Pop3Fixture;
  before(async () => {
    smtp = (await startSmtpFixture('sqlite'))!;
    pop = (await pop3Fixture('sqlite'))!;
  });
  after(async () => {
    await smtp.close();
    await pop.close();
  });

  test('the defaults: tickets on, rotated every 12 h, sessions for 1 h, a cache of 10000', () => {
    assert.deepEqual(parseConfig({}).tls.resumption, { tickets: true, ticketKeyRotationMs: 12 * 3_600_000, sessionLifetimeMs: 3_600_000, sessionCacheEntries: 10_000 });
  });

  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    test(`SMTP submission and POP3S: a second connection resumes the first one's session (${version})`, async () => {
      for (const [what, port, greeting] of [
        ['smtp submission', smtp.submission.port, /^220 /],
        ['pop3s', pop.implicitPort, /^\+OK/],
      ] as const) {
        const first = await visit(port, { maxVersion: version });
        assert.equal(first.reused, false, `${what}: the first connection has nothing to resume`);
        assert.match(first.greeting, greeting);
        const second = await visit(port, { maxVersion: version, session: first.session });
        assert.equal(second.reused, true, `${what}: the second connection resumes`);
        assert.match(second.greeting, greeting, `${what}: and is served`);
      }
    });
  }

  test('openssl s_client -sess_out / -sess_in reports the session reused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postamt-resume-'));
    try {
      const file = join(dir, 'session.pem');
      const base = ['s_client', '-connect', `127.0.0.1:${smtp.submission.port}`, '-ign_eof'];
      const first = await run('openssl', [...base, '-sess_out', file], { input: 'QUIT\r\n' });
      assert.match(first.stdout, /^New, TLSv1\.3/m, first.stderr);
      assert.match(first.stdout, /TLS session ticket lifetime hint: 3600 \(seconds\)/);
      const second = await run('openssl', [...base, '-sess_in', file], { input: 'QUIT\r\n' });
      assert.match(second.stdout, /^Reused, TLSv1\.3/m, second.stderr);
      const tls12 = join(dir, 'session12.pem');
      await run('openssl', [...base, '-tls1_2', '-sess_out', tls12], { input: 'QUIT\r\n' });
      const again12 = await run('openssl', [...base, '-tls1_2', '-sess_in', tls12], { input: 'QUIT\r\n' });
      assert.match(again12.stdout, /^Reused, TLSv1\.2/m, again12.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ResumableContexts', () => {
  let server: Server;
  let port: number;
  let tls: ServerTls;
  let now = 0;
  const setup = async (r: TlsResumption): Promise<void> => {
    const contexts = new ResumableContexts(serverContextOptions(await testTls()), 'test', r, () => now);
    tls = {
      get context() {
        return contexts.context;
      },
      sessions: contexts.sessions,
    };
  };
  before(async () => {
    server = createServer((raw) => {
      void serverHandshake(raw, tls, 5000).then((hs) => {
        if (hs.ok) hs.socket.end('hello\r\n');
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());

  test('after the ticket key rotated, an old ticket gets a full handshake; a new one resumes again', async () => {
    now = 0;
    await setup({ tickets: true, ticketKeyRotationMs: 60_000, sessionLifetimeMs: 3_600_000, sessionCacheEntries: 0 });
    const first = await visit(port);
    assert.equal((await visit(port, { session: first.session })).reused, true);
    now = 60_000;
    const afterRotation = await visit(port, { session: first.session });
    assert.equal(afterRotation.reused, false, 'the ticket was made under the previous key');
    assert.equal((await visit(port, { session: afterRotation.session })).reused, true);
  });

  test('without tickets, a TLS 1.2 client resumes from the session cache; with no cache it cannot', async () => {
    await setup({ tickets: false, ticketKeyRotationMs: 60_000, sessionLifetimeMs: 3_600_000, sessionCacheEntries: 100 });
    const first = await visit(port, { maxVersion: 'TLSv1.2' });
    assert.equal((await visit(port, { maxVersion: 'TLSv1.2', session: first.session })).reused, true);
    await setup({ tickets: false, ticketKeyRotationMs: 60_000, sessionLifetimeMs: 3_600_000, sessionCacheEntries: 0 });
    const none = await visit(port, { maxVersion: 'TLSv1.2' });
    assert.equal((await visit(port, { maxVersion: 'TLSv1.2', session: none.session })).reused, false);
  });
});

