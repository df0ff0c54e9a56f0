import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { installSmtpServerPatches, installedSmtpServer } from '../../src/smtp/patches.js';
import { prng } from '../helpers/prng.js';

/**
 * src/smtp/data-stream.ts replaces smtp-server's byte loop for the DATA intake. It must do
 * exactly what the library does: same message bytes out, same commands after the terminator,
 * same byte counts, whatever the TCP segmentation. Both run side by side on the same input,
 * split at random (seeded) and at every interesting position.
 */

installSmtpServerPatches();
const originalFeedDataStream = installedSmtpServer().stream._feedDataStream;

interface Outcome {
  commands: string[];
  messages: string[];
  byteCounts: number[];
}

/**
 * Drives an SMTPStream as smtp-server does: "DATA" switches to data mode, the data stream's end
 * continues. Every input ends with the command XEND, which says everything before it was handled.
 */
async function run(chunks: Buffer[], original: boolean): Promise<Outcome> {
  const stream = new SMTPStream();
  if (original) (stream as unknown as { _feedDataStream: unknown })._feedDataStream = originalFeedDataStream;
  const out: Outcome = { commands: [], messages: [], byteCounts: [] };
  let ended!: () => void;
  const done = new Promise<void>((resolve) => (ended = resolve));
  stream.oncommand = (line: Buffer, next?: () => void) => {
    const cmd = line.toString('latin1');
    out.commands.push(cmd);
    if (cmd === 'XEND') ended();
    if (cmd === 'DATA') {
      const data = stream.startDataMode();
      const parts: Buffer[] = [];
      data.on('data', (b: Buffer) => parts.push(b));
      data.on('end', () => {
        out.messages.push(Buffer.concat(parts).toString('latin1'));
        out.byteCounts.push(data.byteLength);
        // Later, as smtp-server does once the application answered (continue() is not re-entrant).
        setImmediate(() => stream.continue());
      });
    }
    next?.();
  };
  for (const c of chunks) stream.write(c);
  await done;
  return out;
}


function split(input: Buffer, rnd: () => number, maxChunk: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < input.length; ) {
    const n = 1 + Math.floor(rnd() * maxChunk);
    out.push(input.subarray(i, i + n));
    i += n;
  }
  return out;
}

async function same(input: Buffer, chunks: Buffer[], what: string): Promise<void> {
  assert.ok(input.subarray(-6).toString() === 'XEND\r\n');
  const [ours, theirs] = await Promise.all([run(chunks, false), run(chunks, true)]);
  assert.deepEqual(ours, theirs, `${what}: ${JSON.stringify(input.toString('latin1').slice(0, 200))}`);
}

/**
 * Random sessions made of the pieces that matter: dots at line starts, CR/LF, terminators,
 * pipelined commands after the message. One DATA each: the harness's continue() is not the
 * connection's, and a second transaction would test the harness.
 */
function randomSession(rnd: () => number): Buffer {
  const pieces = ['.', '..', '\r\n', '\n', '\r', 'a', 'xyz', '.\r\n', '\r\n.\r\n', '\r\n..\r\n', 'NOOP\r\n', 'line of text '];
  let s = 'MAIL FROM:<a@b>\r\nDATA\r\n';
  const n = 1 + Math.floor(rnd() * 60);
  for (let i = 0; i < n; i++) s += pieces[Math.floor(rnd() * pieces.length)];
  s += '\r\n.\r\nQUIT\r\nXEND\r\n';
  return Buffer.from(s, 'latin1');
}

describe('SMTP DATA intake (smtp-server _feedDataStream replaced)', () => {
  test('ours is the one an SMTPStream runs, the library\'s is kept beside it', () => {
    assert.equal(typeof originalFeedDataStream, 'function');
    assert.notEqual((SMTPStream.prototype as unknown as { _feedDataStream: unknown })._feedDataStream, originalFeedDataStream);
  });

  test('random sessions in random chunkings: the same as the library', async () => {
    for (let seed = 1; seed <= 4000; seed++) {
      const rnd = prng(seed);
      const input = randomSession(rnd);
      await same(input, split(input, rnd, 1 + Math.floor(rnd() * 40)), `seed ${seed}`);
    }
  });

  test('every split point of messages with escapes and terminators at chunk edges', async () => {
    const bodies = [
      'DATA\r\n.\r\nNOOP\r\n',
      'DATA\r\n..\r\n.\r\nNOOP\r\n',
      'DATA\r\n..x\r\n.\r\n',
      'DATA\r\nabc\r\n.\r\n',
      'DATA\r\nabcdefghijklmnopqrstuvwxyz\r\n..dot\r\n.not a terminator\r\nmore\r\n.\r\nQUIT\r\n',
      'DATA\r\n' + 'x'.repeat(40) + '\r\n..\r\n..\r\n\n.\r\n.\r\n',
      // After a bare LF: a chunk may end just before it (a tail with nothing to carry).
      'DATA\r\nabcdefgh\n..escaped after a bare LF\r\nmore text\n.x\r\nlast\r\r\n.\r\n',
    ].map((b) => b + 'XEND\r\n');
    for (const b of bodies) {
      const input = Buffer.from(b, 'latin1');
      for (let a = 1; a < input.length; a++) {
        await same(input, [input.subarray(0, a), input.subarray(a)], `split at ${a}`);
        for (let c = a + 1; c < input.length; c += 3) await same(input, [input.subarray(0, a), input.subarray(a, c), input.subarray(c)], `split at ${a}, ${c}`);
      }
    }
  });

  test('a 200 KB base64 message in socket-sized chunks, and with dot-stuffed lines', async () => {
    const line = 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n';
    const plain = line.repeat(2700);
    const stuffed = plain.replace(/QUJD/g, (m, off: number) => (off % 7 === 0 ? '..' + m : m));
    for (const body of [plain, stuffed]) {
      const input = Buffer.from(`MAIL FROM:<a@b>\r\nDATA\r\n${body}.\r\nQUIT\r\nXEND\r\n`, 'latin1');
      for (const size of [16384, 65536, 1000, 17]) {
        const chunks: Buffer[] = [];
        for (let i = 0; i < input.length; i += size) chunks.push(input.subarray(i, i + size));
        await same(input, chunks, `chunks of ${size}`);
      }
      const rnd = prng(42);
      await same(input, split(input, rnd, 30000), 'random large chunks');
    }
  });
});
