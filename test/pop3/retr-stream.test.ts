import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger, Metrics } from '../../src/core/index.js';
import { pop3 } from '../../src/wire/index.js';
import { Pop3Client, Pop3Server, type Pop3Backend, type Pop3LoginResult, type Pop3Maildrop } from '../../src/pop3/index.js';
import { RawPop3Client } from '../helpers/net.js';
import { prng } from '../helpers/prng.js';

/**
 * A maildrop whose content comes in given chunks, the way the blob stores hand it out; it
 * records which path the server took so the threshold can be checked.
 */
class ChunkedMaildrop implements Pop3Maildrop {
  readonly messages: { uid: string; size: number }[];
  readonly calls: string[] = [];

  constructor(
    private readonly bodies: Buffer[][],
    private readonly failAfter?: number,
  ) {
    this.messages = bodies.map((chunks, i) => ({ uid: `m${i}`, size: chunks.reduce((s, c) => s + c.length, 0) }));
  }

  async retrieve(i: number): Promise<Buffer> {
    this.calls.push(`retrieve ${i}`);
    return Buffer.concat(this.bodies[i]!);
  }

  async retrieveStream(i: number): Promise<AsyncIterable<Uint8Array>> {
    this.calls.push(`stream ${i}`);
    const chunks = this.bodies[i]!;
    const failAfter = this.failAfter;
    return (async function* () {
      for (let k = 0; k < chunks.length; k++) {
        if (failAfter !== undefined && k === failAfter) throw new Error('chunk row lost');
        yield chunks[k]!;
      }
    })();
  }

  async commit(): Promise<void> {}
  async release(): Promise<void> {}
}

async function serve(md: ChunkedMaildrop, streamAboveBytes: number, metrics = new Metrics()): Promise<{ server: Pop3Server; port: number }> {
  const backend: Pop3Backend = {
    login: async (): Promise<Pop3LoginResult> => ({ ok: true, account: 'alice@test.local', maildrop: md }),
  };
  const server = new Pop3Server({ backend, hostname: 'pop.test', tlsMode: 'none', limits: { streamAboveBytes }, logger: silentLogger(), metrics });
  const { port } = await server.listen();
  return { server, port };
}

/** Random cuts of `buf`, so dots and CRLFs land on chunk boundaries. */
function chunked(buf: Buffer, rnd: () => number, max: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < buf.length; ) {
    const n = 1 + Math.floor(rnd() * max);
    out.push(buf.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** Lines with leading dots, lone dots, bare LF, 8-bit bytes; optionally no final line end. */
function tricky(rnd: () => number, lines: number, finalCrlf: boolean): Buffer {
  const parts: Buffer[] = [Buffer.from('Subject: dots\r\n\r\n')];
  const kinds = ['.', '..', '.x', 'plain', '', '\u00e4\u00ff.'];
  for (let i = 0; i < lines; i++) {
    parts.push(Buffer.from(kinds[Math.floor(rnd() * kinds.length)]! + ' ' + i, 'latin1'), Buffer.from(rnd() < 0.1 ? '\n' : '\r\n'));
  }
  if (!finalCrlf) parts.push(Buffer.from('.last line without end'));
  return Buffer.concat(parts);
}

describe('POP3 RETR streams messages above service.pop3.streamAboveBytes', () => {
  test('the streamed answer is byte for byte the whole-buffer one, with or without a final CRLF', async () => {
    const rnd = prng(20);
    const bodies = [tricky(rnd, 3000, true), tricky(rnd, 3000, false), tricky(rnd, 20, true)];
    const md = new ChunkedMaildrop(bodies.map((b) => chunked(b, rnd, 700)));
    const { server, port } = await serve(md, 1000);
    const raw = await RawPop3Client.connect(port);
    try {
      await raw.line();
      await raw.login('alice@test.local', 'x');
      for (let n = 1; n <= bodies.length; n++) {
        raw.write(`RETR ${n}\r\n`);
        const expected = Buffer.concat([Buffer.from(`+OK ${bodies[n - 1]!.length} octets\r\n`), pop3.dotStuff(bodies[n - 1]!)]);
        const got = await raw.take(expected.length);
        assert.ok(got.equals(expected), `message ${n}: wire bytes differ`);
      }
      assert.deepEqual(md.calls, ['stream 0', 'stream 1', 'retrieve 2'], 'large ones streamed, the small one whole');
      assert.equal(await raw.cmd('NOOP'), '+OK', 'the session goes on after a streamed answer');
    } finally {
      raw.close();
      await server.close(0);
    }
  });

  test('our client gets the message back exactly (un-stuffed)', async () => {
    const rnd = prng(7);
    const body = tricky(rnd, 5000, false);
    const md = new ChunkedMaildrop([chunked(body, rnd, 4096)]);
    const { server, port } = await serve(md, 0);
    const c = await Pop3Client.connect({ host: '127.0.0.1', port, tls: 'none', timeoutMs: 5000 });
    try {
      await c.login('alice@test.local', 'x');
      const got = await c.retr(1);
      // The client gives back what went between status line and terminator, un-stuffed: the
      // body plus the CRLF the server added because it did not end with one.
      assert.ok(got.equals(Buffer.concat([body, Buffer.from('\r\n')])));
      assert.deepEqual(md.calls, ['stream 0']);
    } finally {
      await c.quit();
      await server.close(0);
    }
  });

  test('a read failing mid-stream closes the connection without a terminator, counted as a backend error', async () => {
    const body = Buffer.from('Subject: x\r\n\r\n' + 'line of text\r\n'.repeat(1000));
    const chunks = chunked(body, prng(3), 1000);
    const md = new ChunkedMaildrop([chunks], 5);
    const metrics = new Metrics();
    const { server, port } = await serve(md, 100, metrics);
    const raw = await RawPop3Client.connect(port);
    try {
      await raw.line();
      await raw.login('alice@test.local', 'x');
      raw.write('RETR 1\r\n');
      const rest = await raw.rest(5000);
      const sent = Buffer.concat(chunks.slice(0, 5)).toString('latin1');
      assert.equal(rest, `+OK ${body.length} octets\r\n${sent}`, 'what was read before the failure, then the end');
      // Counted before the connection was cut, so it is there once the client saw the close.
      assert.equal(metrics.value('postamt_pop3_errors_total', { listener: 'none', kind: 'backend' }), 1);
    } finally {
      raw.close();
      await server.close(0);
    }
  });
});
