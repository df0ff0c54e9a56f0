import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { mailbox, startSmtpFixture, PASSWORD, type SmtpFixture } from '../helpers/smtp-fixture.js';
import { testTls } from '../helpers/env.js';
import { SmtpClient, SmtpClientError } from '../../src/smtp/index.js';
import { listenOnLoopback } from '../helpers/net.js';

const isKind = (kind: string, code?: number) => (e: unknown) => e instanceof SmtpClientError && e.kind === kind && (code === undefined || e.reply?.code === code);

describe('SMTP client against the service listeners (implicit TLS on submission, STARTTLS on MX)', () => {
  let f: SmtpFixture;
  let ca: string;
  before(async () => {
    f = (await startSmtpFixture('sqlite'))!;
    ca = (await testTls()).cert;
  });
  after(async () => {
    await f.close();
  });
  const connect = (extra: Partial<Parameters<typeof SmtpClient.connect>[0]> = {}) =>
    SmtpClient.connect({ host: '127.0.0.1', port: f.submission.port, tls: 'implicit', ca, servername: 'localhost', clientName: 'cm.test', timeoutMs: 5000, ...extra });
  /** STARTTLS (RFC 3207), as the relay talks to another provider's MX. */
  const connectMx = (extra: Partial<Parameters<typeof SmtpClient.connect>[0]> = {}) => connect({ port: f.mx.port, tls: 'starttls', clientName: 'relay.test', ...extra });

  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2013 (client part of AUTH PLAIN)
  test('login and send: dots stuffed, bare line ends normalised, the stored message is what was meant', async () => {
    const c = await connect();
    await c.login('alice@example.test', PASSWORD);
    const before = (await mailbox(f, 'bob@example.test')).length;
    const r = await c.send('alice@example.test', ['bob@example.test'], Buffer.from('Subject: dots\r\n\r\n.one\r\n..two\r\n.\r\nbare\nlf\r\nend', 'latin1'));
    assert.deepEqual(r.accepted, ['bob@example.test']);
    assert.deepEqual(r.rejected, []);
    assert.equal(r.reply.code, 250);
    const stored = await mailbox(f, 'bob@example.test');
    assert.equal(stored.length, before + 1);
    assert.ok(stored.at(-1)!.toString('latin1').endsWith('Subject: dots\r\n\r\n.one\r\n..two\r\n.\r\nbare\r\nlf\r\nend\r\n'));
    await c.quit();
    assert.equal(c.usable, false);
  });

  test('refused recipients are reported; when all are refused the session is reset and stays usable', async () => {
    const c = await connect();
    await c.login('alice@example.test', PASSWORD);
    const r = await c.send('alice@example.test', ['bob@example.test', 'nobody@example.test'], Buffer.from('Subject: x\r\n\r\nhi\r\n'));
    assert.deepEqual(r.accepted, ['bob@example.test']);
    assert.equal(r.rejected.length, 1);
    assert.equal(r.rejected[0]!.address, 'nobody@example.test');
    assert.equal(r.rejected[0]!.reply.code, 550);
    await assert.rejects(c.send('alice@example.test', ['nobody@example.test'], Buffer.from('x\r\n')), (e: unknown) => {
      assert.ok(isKind('rejected', 550)(e));
      // Every recipient refused: each one's reply is there too (the relay answers for each).
      assert.deepEqual((e as SmtpClientError).rejectedRecipients?.map((r) => [r.address, r.reply.code]), [['nobody@example.test', 550]]);
      return true;
    });
    assert.equal(c.usable, true);
    const again = await c.send('alice@example.test', ['bob@example.test'], Buffer.from('Subject: y\r\n\r\nagain\r\n'));
    assert.equal(again.reply.code, 250);
    await c.quit();
  });

  test('wrong password is kind rejected with 535; an untrusted certificate is kind tls; bad addresses never reach the wire', async () => {
    const c = await connect();
    await assert.rejects(c.login('alice@example.test', 'wrong password!'), isKind('rejected', 535));
    c.close();
    await assert.rejects(connect({ ca: undefined }), isKind('tls'));
    const d = await connect();
    await d.login('alice@example.test', PASSWORD);
    await assert.rejects(d.send('alice@example.test', ['bob@example.test>\r\nRCPT TO:<x@y'], Buffer.from('x\r\n')), isKind('protocol'));
    await assert.rejects(d.send('alice@example.test', [], Buffer.from('x\r\n')), isKind('protocol'));
    assert.equal(d.usable, true);
    await d.quit();
  });

  test('EHLO, STARTTLS, the handshake, EHLO again; the message goes over TLS', async () => {
    const c = await connectMx();
    assert.equal(c.encrypted, true);
    const before = (await mailbox(f, 'alice@example.test')).length;
    const r = await c.send('sender@remote.test', ['alice@example.test'], Buffer.from('Subject: over STARTTLS\r\n\r\nhallo\r\n'));
    assert.deepEqual(r.accepted, ['alice@example.test']);
    await c.quit();
    const stored = await mailbox(f, 'alice@example.test');
    assert.equal(stored.length, before + 1);
    assert.match(stored.at(-1)!.toString('latin1'), /from relay\.test .*\r\n\tby mx\.test\.local \(Postamt\) with ESMTPS \(TLSv1\.[23] /s);
  });

  test('a certificate the trust anchors do not vouch for is kind tls: nothing is sent, not even in clear', async () => {
    const before = (await mailbox(f, 'alice@example.test')).length;
    // Without `ca` only the system's roots are trusted; the listener's certificate is self-signed.
    await assert.rejects(connectMx({ ca: undefined }), isKind('tls'));
    // Trusted, but for other names: verification checks the name as well.
    await assert.rejects(connectMx({ servername: 'mx.elsewhere.test' }), isKind('tls'));
    assert.equal((await mailbox(f, 'alice@example.test')).length, before);
  });
});

/** A server that answers with whatever the test scripts: `on(line)` returns the bytes to send back. */
async function scriptedServer(greeting: string, on: (line: string, s: Socket) => string | null): Promise<{ server: { close(): void }; port: number; received: string[] }> {
  const received: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.write(greeting);
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        received.push(line);
        const out = on(line, s);
        if (out) s.write(out);
      }
    });
    s.on('error', () => undefined);
  });
  const port = await listenOnLoopback(server);
  const close = () => {
    server.close();
    for (const s of sockets) s.destroy();
  };
  return { server: { close }, port, received };
}

const EHLO = '250-test\r\n250-PIPELINING\r\n250 AUTH PLAIN\r\n';

describe('SMTP client against hostile or broken servers', () => {
  const plain = (port: number, timeoutMs = 2000) => SmtpClient.connect({ host: '127.0.0.1', port, tls: 'none', clientName: 'cm.test', timeoutMs });
  const cases: Array<[string, string, (line: string) => string | null, string]> = [
    ['a greeting that is not 220', '554 go away\r\n', () => null, 'rejected'],
    ['a greeting that is not SMTP', 'HTTP/1.1 400 Bad Request\r\n', () => null, 'protocol'],
    ['a reply line without end', '220 ' + 'x'.repeat(5000), () => null, 'protocol'],
    ['a multi-line reply that changes its code', '220 hi\r\n', () => '250-one\r\n251 two\r\n', 'protocol'],
    ['an endless multi-line reply', '220 hi\r\n', () => '250-x\r\n'.repeat(200), 'protocol'],
    ['silence after the greeting', '220 hi\r\n', () => null, 'timeout'],
    ['a close in the middle of a reply', '220 hi\r\n', () => '250-half', 'network'],
  ];
  for (const [name, greeting, answer, kind] of cases) {
    test(`${name}: kind ${kind}`, async () => {
      const { server, port } = await scriptedServer(greeting, (line, s) => {
        const out = answer(line);
        if (out === '250-half') {
          s.end(out);
          return null;
        }
        return out;
      });
      try {
        await assert.rejects(plain(port, 500), isKind(kind));
      } finally {
        server.close();
      }
    });
  }

  test('replies nobody asked for are a protocol error', async () => {
    const { server, port } = await scriptedServer('220 hi\r\n', (line) => (line.startsWith('EHLO') ? EHLO + '250 extra\r\n250 extra\r\n' : null));
    try {
      const c = await plain(port);
      await assert.rejects(c.login('u', 'p'), isKind('protocol'));
      assert.equal(c.usable, false);
    } finally {
      server.close();
    }
  });

  test('a server inviting data after refusing every recipient gets no data: the session is dropped', async () => {
    const { server, port, received } = await scriptedServer('220 hi\r\n', (line) => {
      if (line.startsWith('EHLO')) return EHLO;
      if (line.startsWith('AUTH')) return '235 ok\r\n';
      if (line.startsWith('MAIL')) return '250 ok\r\n';
      if (line.startsWith('RCPT')) return '550 no\r\n';
      if (line === 'DATA') return '354 go ahead\r\n';
      return null;
    });
    try {
      const c = await plain(port);
      await c.login('u', 'p');
      await assert.rejects(c.send('a@b.test', ['c@d.test'], Buffer.from('secret body\r\n')), isKind('rejected', 550));
      assert.equal(c.usable, false);
      assert.ok(!received.some((l) => l.includes('secret')), 'no message bytes were sent');
    } finally {
      server.close();
    }
  });

  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2013 (client part of AUTH LOGIN)
  test('without PIPELINING commands go one at a time and stop at a refused sender', async () => {
    const { server, port, received } = await scriptedServer('220 hi\r\n', (line) => {
      if (line.startsWith('EHLO')) return '250-test\r\n250 AUTH LOGIN\r\n';
      if (line === 'AUTH LOGIN') return '334 VXNlcm5hbWU6\r\n';
      if (line === Buffer.from('u').toString('base64')) return '334 UGFzc3dvcmQ6\r\n';
      if (line === Buffer.from('p').toString('base64')) return '235 ok\r\n';
      if (line.startsWith('MAIL')) return '553 5.7.1 not yours\r\n';
      if (line === 'RSET') return '250 ok\r\n';
      return '500 unexpected\r\n';
    });
    try {
      const c = await plain(port);
      await c.login('u', 'p');
      await assert.rejects(c.send('a@b.test', ['c@d.test'], Buffer.from('x\r\n')), isKind('rejected', 553));
      assert.ok(!received.some((l) => l.startsWith('RCPT') || l === 'DATA'), received.join(' | '));
      assert.equal(received.at(-1), 'RSET');
      assert.equal(c.usable, true);
      c.close();
    } finally {
      server.close();
    }
  });
});

describe('SMTP client STARTTLS against servers that do not do it right', () => {
  test('a server that does not offer STARTTLS gets no MAIL: kind tls', async () => {
    const { server, port, received } = await scriptedServer('220 hi\r\n', (line) => (line.startsWith('EHLO') ? '250-plain.test\r\n250 PIPELINING\r\n' : '250 ok\r\n'));
    try {
      await assert.rejects(SmtpClient.connect({ host: '127.0.0.1', port, tls: 'starttls', clientName: 'relay.test', timeoutMs: 2000 }), (e: unknown) => isKind('tls')(e) && /does not offer STARTTLS/.test((e as Error).message));
      assert.deepEqual(received, ['EHLO relay.test'], 'nothing after EHLO');
    } finally {
      server.close();
    }
  });

  test('a server that accepts STARTTLS and then never answers the handshake: timeout within timeoutMs', async () => {
    const { server, port, received } = await scriptedServer('220 hi\r\n', (line) => (line.startsWith('EHLO') ? '250-x\r\n250 STARTTLS\r\n' : line === 'STARTTLS' ? '220 go ahead\r\n' : null));
    try {
      const started = Date.now();
      await assert.rejects(SmtpClient.connect({ host: '127.0.0.1', port, tls: 'starttls', clientName: 'relay.test', timeoutMs: 500 }), (e: unknown) => isKind('timeout')(e) && /TLS handshake/.test((e as Error).message));
      const took = Date.now() - started;
      assert.ok(took >= 450 && took < 3000, `failed after ${took} ms (timeoutMs 500)`);
      // What follows is the ClientHello (binary, cut into "lines" where its bytes happen to say CRLF).
      assert.deepEqual(received.slice(0, 2), ['EHLO relay.test', 'STARTTLS']);
      assert.ok(!received.some((l) => /^(AUTH|MAIL|RCPT|EHLO relay\.test$)/.test(l) && l !== received[0]), 'nothing in clear after STARTTLS');
    } finally {
      server.close();
    }
  });

  test('a handshake the server breaks off is kind tls', async () => {
    const { server, port } = await scriptedServer('220 hi\r\n', (line, s) => {
      if (line.startsWith('EHLO')) return '250-x\r\n250 STARTTLS\r\n';
      if (line === 'STARTTLS') {
        // Whatever comes next (the ClientHello) is answered by a close.
        s.once('data', () => s.destroy());
        return '220 go ahead\r\n';
      }
      return null;
    });
    try {
      await assert.rejects(SmtpClient.connect({ host: '127.0.0.1', port, tls: 'starttls', clientName: 'relay.test', timeoutMs: 2000 }), isKind('tls'));
    } finally {
      server.close();
    }
  });

  test('STARTTLS refused is kind tls; bytes after the 220 (command injection) are a protocol error', async () => {
    const refusing = await scriptedServer('220 hi\r\n', (line) => (line.startsWith('EHLO') ? '250-x\r\n250 STARTTLS\r\n' : line === 'STARTTLS' ? '454 4.7.0 TLS not available\r\n' : null));
    const injecting = await scriptedServer('220 hi\r\n', (line) => (line.startsWith('EHLO') ? '250-x\r\n250 STARTTLS\r\n' : line === 'STARTTLS' ? '220 go ahead\r\n250 injected\r\n' : null));
    try {
      await assert.rejects(SmtpClient.connect({ host: '127.0.0.1', port: refusing.port, tls: 'starttls', clientName: 'relay.test', timeoutMs: 2000 }), isKind('tls'));
      await assert.rejects(SmtpClient.connect({ host: '127.0.0.1', port: injecting.port, tls: 'starttls', clientName: 'relay.test', timeoutMs: 2000 }), isKind('protocol'));
      assert.ok(!refusing.received.some((l) => l.startsWith('MAIL')) && !injecting.received.some((l) => l.startsWith('MAIL')));
    } finally {
      refusing.server.close();
      injecting.server.close();
    }
  });
});
