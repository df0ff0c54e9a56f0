import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { pop3 } from '../../../src/wire/index.js';
import { prng } from '../../helpers/prng.js';

const { DotStuffer, dotStuff, dotUnstuff } = pop3;

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('dot-stuffing', () => {
  const body = Buffer.concat([b('.a\r\nb\r\n..c\r\n.\r\n'), Buffer.from([0xff, 0x00, 0x2e, 0x0d, 0x0a]), b('.end')]);
  const expected = Buffer.concat([b('..a\r\nb\r\n...c\r\n..\r\n'), Buffer.from([0xff, 0x00, 0x2e, 0x0d, 0x0a]), b('..end\r\n.\r\n')]);

  test('dots at line starts are doubled, nothing else changes, the terminator is added', () => {
    assert.ok(dotStuff(body).equals(expected));
    assert.equal(dotStuff(b('')).toString(), '.\r\n');
    assert.equal(dotStuff(b('x\r\n')).toString(), 'x\r\n.\r\n');
  });

  test('the same result whatever the chunking', () => {
    for (let cut1 = 0; cut1 <= body.length; cut1++) {
      for (let cut2 = cut1; cut2 <= body.length; cut2 += 3) {
        const s = new DotStuffer();
        const out = Buffer.concat([s.push(body.subarray(0, cut1)), s.push(body.subarray(cut1, cut2)), s.push(body.subarray(cut2)), s.finish()]);
        assert.ok(out.equals(expected), `cuts ${cut1}/${cut2}: ${JSON.stringify(out.toString('latin1'))}`);
      }
    }
  });
});

describe('dotUnstuff', () => {
  test('the inverse of DotStuffer, bare LF line starts included; untouched bodies are not copied', () => {
    for (const s of ['', 'plain\r\n', '.a\r\n..b\r\nc.\r\n', 'x\n.y\n', '.\r\n']) {
      const body = b(s);
      const stuffed = dotStuff(body);
      assert.equal(dotUnstuff(stuffed.subarray(0, stuffed.length - 3)).toString('latin1'), s, JSON.stringify(s));
    }
    const plain = b('no dots here\r\n');
    assert.equal(dotUnstuff(plain), plain);
  });
});

describe('dotStuffStream', () => {
  const { dotStuffStream } = pop3;

  async function collect(chunks: Buffer[]): Promise<Buffer> {
    async function* source(): AsyncGenerator<Buffer> {
      yield* chunks;
    }
    const out: Buffer[] = [];
    for await (const piece of dotStuffStream(source())) out.push(piece);
    return Buffer.concat(out);
  }

  /** Cuts `buf` at random places, empty pieces and one-byte pieces included. */
  function cut(buf: Buffer, rnd: () => number): Buffer[] {
    const pieces: Buffer[] = [];
    let at = 0;
    while (at < buf.length) {
      const n = rnd() < 0.1 ? 0 : rnd() < 0.3 ? 1 : Math.floor(rnd() * 12);
      pieces.push(buf.subarray(at, at + n));
      at += n;
    }
    return pieces;
  }

  // Lines starting with dots, CRLF, bare LF and bare CR, 8-bit bytes, with and without a final line end.
  const alphabet = [b('.'), b('..'), b('\r\n'), b('\n'), b('\r'), b('a'), b('.\r\n'), Buffer.from([0xff, 0x00])];
  function tricky(rnd: () => number): Buffer {
    const parts: Buffer[] = [];
    const n = Math.floor(rnd() * 40);
    for (let i = 0; i < n; i++) parts.push(alphabet[Math.floor(rnd() * alphabet.length)]!);
    return Buffer.concat(parts);
  }

  test('random chunk splits of tricky bodies give exactly the whole-buffer stuffing', async () => {
    for (let seed = 1; seed <= 400; seed++) {
      const rnd = prng(seed);
      const body = tricky(rnd);
      const got = await collect(cut(body, rnd));
      assert.ok(got.equals(dotStuff(body)), `seed ${seed}: ${JSON.stringify(body.toString('latin1'))} -> ${JSON.stringify(got.toString('latin1'))}`);
    }
  });

  test('an empty source is an empty body; a body without a final line end gets one before the dot', async () => {
    assert.equal((await collect([])).toString(), '.\r\n');
    assert.equal((await collect([b('x\r'), b('\n.y')])).toString(), 'x\r\n..y\r\n.\r\n');
  });

  test('a source failing mid-way rejects the iteration after what was stuffed so far', async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield b('.one\r\n');
      throw new Error('blob read failed');
    }
    const seen: string[] = [];
    await assert.rejects(async () => {
      for await (const piece of dotStuffStream(failing())) seen.push(piece.toString());
    }, /blob read failed/);
    assert.deepEqual(seen, ['..one\r\n']);
  });
});
