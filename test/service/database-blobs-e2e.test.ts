import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { testTls } from '../helpers/env.js';
import { python } from '../helpers/process.js';
import { untilSteady } from '../helpers/wait.js';
import { startSmtpFixture, PASSWORD } from '../helpers/smtp-fixture.js';
import { silentLogger, Metrics } from '../../src/core/index.js';
import { ServicePop3Backend } from '../../src/service/index.js';
import { Pop3Server } from '../../src/pop3/index.js';
import { SmtpClient } from '../../src/smtp/index.js';
import type { StoreKind } from '../helpers/env.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// A full collection before each sample, so the peak is what the server holds, not garbage
// the collector has not got round to (the test runner starts node without --expose-gc).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MB = 1024 * 1024;
/**
 * What RETR of a 50 MB message may add to the server process's buffers: well under the message.
 * Measured 0.5–4 MiB with file blobs; with 1 MiB chunk rows 8–23 MiB at first and 20–34 MiB
 * since (2026-12-08, same machine, more of the process loaded: the PostgreSQL driver's receive
 * buffer of a hex-encoded row, the chunk, the next one read ahead, the socket) — to be
 * understood (issue 20's notes); whole, it is 48 MiB, which this limit still tells apart.
 */
const MAX_GROWTH = 38 * MB;

/** About `size` bytes of base64 text in 76-character CRLF lines: a large attachment as mail carries it. */
function bigMessage(size: number): Buffer {
  const head = Buffer.from('From: <sender@example.org>\r\nTo: <alice@example.test>\r\nSubject: large\r\n\r\n');
  const b64 = randomBytes(Math.ceil(((size - head.length) / 78) * 57)).toString('base64');
  const lines: string[] = [];
  for (let at = 0; at < b64.length; at += 76) lines.push(b64.slice(at, at + 76));
  return Buffer.concat([head, Buffer.from(lines.join('\r\n') + '\r\n')]);
}

// Python's poplib retrieves in another process, so what this process's buffers grow by during
// RETR is the server's alone; it reports digests, not the 50 MB.
const RETR = String.raw`
import poplib, ssl, sys, json, hashlib
port, user, pw, tail = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
p = poplib.POP3_SSL('127.0.0.1', port, context=ctx, timeout=120)
p.user(user)
p.pass_(pw)
resp, lines, octets = p.retr(1)
data = b''.join(l + b'\r\n' for l in lines)
p.quit()
print(json.dumps({'resp': resp.decode(), 'length': len(data), 'sha256': hashlib.sha256(data).hexdigest(), 'tail': hashlib.sha256(data[-tail:]).hexdigest(), 'head': data[:13].decode()}))
`;

interface Retrieved {
  resp: string;
  length: number;
  sha256: string;
  tail: string;
  head: string;
}

async function roundTrip(t: { skip(msg: string): void; diagnostic(msg: string): void }, kind: StoreKind, backend: 'database' | 'files', streamAboveBytes?: number): Promise<void> {
  const f = await startSmtpFixture(kind, {
    blobs: { backend },
    service: { smtp: { maxMessageSize: 64 * MB }, ...(streamAboveBytes === undefined ? {} : { pop3: { streamAboveBytes } }) },
  });
  if (!f) return t.skip('POSTAMT_TEST_SKIP_PG=1: PostgreSQL tests skipped explicitly');
  const tls = await testTls();
  const pop3 = new Pop3Server({
    backend: new ServicePop3Backend(f.accounts, f.mailboxes),
    hostname: 'pop.example.test',
    tls,
    tlsMode: 'implicit',
    name: 'pop3s',
    limits: f.ts.config.service.pop3,
    logger: silentLogger(),
    metrics: new Metrics(),
  });
  try {
    const { port } = await pop3.listen();
    let message: Buffer | undefined = bigMessage(50 * 1000 * 1000);
    const length = message.length;
    const tailSha = createHash('sha256').update(message).digest('hex');
    const smtp = await SmtpClient.connect({ host: '127.0.0.1', port: f.mx.port, tls: 'starttls', ca: tls.cert, servername: 'localhost', clientName: 'relay.test', timeoutMs: 60_000, dataTimeoutMs: 120_000 });
    try {
      await smtp.send('sender@example.org', ['alice@example.test'], message);
    } finally {
      await smtp.quit();
    }
    message = undefined;
    if (backend === 'database') {
      const chunks = await f.ts.store.db.selectFrom('blob_chunks').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      assert.ok(Number(chunks.n) >= 48, `the message is stored in chunk rows (${chunks.n})`);
    }
    const acc = await f.accounts.get('alice@example.test');
    const [entry] = await f.mailboxes.list(acc.id);

    // The baseline once the SMTP side has let go of what it held (its sockets close after
    // QUIT), so that nothing freed during RETR hides what RETR takes.
    await untilSteady(() => {
      gc();
      return Math.round(process.memoryUsage().arrayBuffers / MB);
    });
    const base = process.memoryUsage().arrayBuffers;
    let peak = base;
    const sampler = setInterval(() => {
      gc();
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }, 50);
    let got: Retrieved;
    try {
      got = await python<Retrieved>(RETR, [port, 'alice@example.test', PASSWORD, length]);
    } finally {
      clearInterval(sampler);
    }
    assert.equal(got.resp, `+OK ${entry!.size} octets`);
    assert.equal(got.head, 'Return-Path: ', 'starts with the trace headers');
    assert.equal(got.length, entry!.size);
    assert.equal(got.sha256, entry!.blobHash, 'the whole message arrives byte-exact');
    assert.equal(got.tail, tailSha, 'what was sent is its end');
    const growth = peak - base;
    t.diagnostic(`arrayBuffers peak growth during RETR: ${(growth / MB).toFixed(1)} MiB`);
    if (streamAboveBytes === undefined) {
      assert.ok(growth < MAX_GROWTH, `server buffers grew by ${(growth / MB).toFixed(1)} MiB during RETR (at most ${MAX_GROWTH / MB})`);
    } else {
      // The whole-buffer path holds the message: the measurement can see it.
      assert.ok(growth > 40 * MB, `whole-buffer RETR grew buffers by ${(growth / MB).toFixed(1)} MiB`);
    }
  } finally {
    await pop3.close(0);
    await f.close();
  }
}

test('a 50 MB message through SMTP into PostgreSQL-held blobs and out through POP3 RETR, byte-exact, streamed with bounded memory', async (t) => {
  await roundTrip(t, 'postgres', 'database');
});

test('the same with the files blob backend', async (t) => {
  await roundTrip(t, 'sqlite', 'files');
});

test('the memory measurement sees a message held whole (streaming turned off): it can fail', async (t) => {
  await roundTrip(t, 'sqlite', 'files', 1024 * MB);
});
