import { test, describe } from 'node:test';
import { prng } from '../../helpers/prng.js';
import assert from 'node:assert/strict';
import { DataChecker, describeViolation, encodeDataSection, type DataCheckOptions } from '../../../src/wire/smtp/index.js';

const opts: DataCheckOptions = { maxBytes: 10_000, maxLineLength: 20, bareLineFeed: 'reject' };

function run(o: DataCheckOptions, chunks: Array<string | Buffer>): { out: Buffer; checker: DataChecker } {
  const c = new DataChecker(o);
  const out: Buffer[] = [];
  for (const ch of chunks) {
    const kept = c.push(Buffer.isBuffer(ch) ? ch : Buffer.from(ch, 'latin1'));
    if (kept) out.push(kept);
  }
  const tail = c.end();
  if (tail) out.push(tail);
  return { out: Buffer.concat(out), checker: c };
}

describe('SMTP DATA checker', () => {
  const table: Array<[string, Array<string>, string | null]> = [
    ['plain CRLF lines', ['a\r\nb\r\n'], null],
    ['CRLF split across chunks', ['a\r', '\nb\r\n'], null],
    ['bare LF', ['a\nb\r\n'], 'bare-lf'],
    ['bare CR mid-line', ['a\rb\r\n'], 'bare-cr'],
    ['bare CR at a chunk end followed by text', ['a\r', 'b\r\n'], 'bare-cr'],
    ['trailing lone CR', ['a\r'], 'bare-cr'],
    ['NUL', ['a\u0000\r\n'], 'nul'],
    ['line of exactly the limit', ['x'.repeat(20) + '\r\n'], null],
    ['line one over the limit', ['x'.repeat(21) + '\r\n'], 'line-too-long'],
    ['long line split over chunks', ['x'.repeat(15), 'x'.repeat(15) + '\r\n'], 'line-too-long'],
    ['8-bit bytes are fine', ['\u00e4\u00f6\u00fc\r\n'], null],
    ['empty data', [], null],
  ];
  for (const [name, chunks, expected] of table) {
    test(name, () => {
      const { out, checker } = run(opts, chunks);
      assert.equal(checker.failed?.kind ?? null, expected);
      if (!expected) assert.equal(out.toString('latin1'), chunks.join(''));
    });
  }

  test('the size limit counts every byte', () => {
    const { checker } = run({ ...opts, maxBytes: 10 }, ['abcd\r\n', 'efgh\r\n']);
    assert.deepEqual(checker.failed, { kind: 'too-large', limit: 10 });
    assert.equal(describeViolation(checker.failed!).enhanced, '5.3.4');
  });

  test('normalize mode turns bare LF and bare CR into CRLF, across chunk boundaries', () => {
    const n = { ...opts, bareLineFeed: 'normalize' as const };
    assert.equal(run(n, ['a\nb\r\n']).out.toString(), 'a\r\nb\r\n');
    assert.equal(run(n, ['a\r', 'b\n']).out.toString(), 'a\r\nb\r\n');
    assert.equal(run(n, ['a\r']).out.toString(), 'a\r\n');
    assert.equal(run(n, ['\n\n']).out.toString(), '\r\n\r\n');
  });

  test('violations name the line they are on', () => {
    const { checker } = run(opts, ['one\r\ntwo\r\nth\nree\r\n']);
    assert.deepEqual(checker.failed, { kind: 'bare-lf', line: 3 });
    assert.match(describeViolation(checker.failed!).text, /^Line 3 /);
  });

  test('fuzz: random bytes in random chunks never throw and agree with a reference check', () => {
    let seed = 0x9e3779b9;
    const rnd = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x100000000;
    };
    const alphabet = [0x0d, 0x0a, 0x00, 0x41, 0x2e, 0xe4, 0x20];
    for (let i = 0; i < 2000; i++) {
      const len = Math.floor(rnd() * 60);
      const bytes = Buffer.from(Array.from({ length: len }, () => alphabet[Math.floor(rnd() * alphabet.length)]!));
      const chunks: Buffer[] = [];
      for (let p = 0; p < bytes.length; ) {
        const n = 1 + Math.floor(rnd() * 8);
        chunks.push(bytes.subarray(p, p + n));
        p += n;
      }
      const o = { maxBytes: 50, maxLineLength: 10, bareLineFeed: 'reject' as const };
      const { out, checker } = run(o, chunks);
      const s = bytes.toString('latin1');
      const ref =
        bytes.length > 50 ||
        /\r(?!\n)|(?<!\r)\n|\u0000/.test(s) ||
        s.split('\r\n').some((l) => l.length > 10);
      assert.equal(checker.failed !== null, ref, `case ${i}: ${JSON.stringify(s)}`);
      if (!ref) assert.deepEqual(out, bytes);
    }
  });
});

/** The checks done the slow, obvious way on the whole input: what the chunked checker must match. */
function referenceCheck(bytes: Buffer, o: DataCheckOptions): { violation: { kind: string; line: number } | null; out: Buffer } {
  const out: number[] = [];
  let line = 1;
  let lineLength = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x0d || b === 0x0a) {
      const pair = b === 0x0d && bytes[i + 1] === 0x0a;
      if (!pair && o.bareLineFeed === 'reject') return { violation: { kind: b === 0x0d ? 'bare-cr' : 'bare-lf', line }, out: Buffer.alloc(0) };
      out.push(0x0d, 0x0a);
      if (pair) i++;
      line++;
      lineLength = 0;
      continue;
    }
    if (b === 0) return { violation: { kind: 'nul', line }, out: Buffer.alloc(0) };
    if (++lineLength > o.maxLineLength) return { violation: { kind: 'line-too-long', line }, out: Buffer.alloc(0) };
    out.push(b);
  }
  return { violation: null, out: Buffer.from(out) };
}

describe('SMTP DATA checker against a byte-by-byte reference', () => {
  test('fuzz: same first violation (kind and line) and same normalised bytes, however the input is cut', () => {
    let seed = 0x2545f491;
    const rnd = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x100000000;
    };
    const alphabet = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x41, 0x42, 0x2e, 0xe4, 0x20];
    for (let i = 0; i < 5000; i++) {
      const len = Math.floor(rnd() * 80);
      const rare = rnd() < 0.5; // half the cases mostly clean text, where violations sit deep inside
      const bytes = Buffer.from(
        Array.from({ length: len }, () => (rare && rnd() < 0.9 ? [0x41, 0x42, 0x20][Math.floor(rnd() * 3)]! : alphabet[Math.floor(rnd() * alphabet.length)]!)),
      );
      const chunks: Buffer[] = [];
      for (let p = 0; p < bytes.length; ) {
        const n = rnd() < 0.2 ? 0 : 1 + Math.floor(rnd() * 12);
        chunks.push(bytes.subarray(p, p + n));
        p += n;
      }
      for (const mode of ['reject', 'normalize'] as const) {
        const o = { maxBytes: 1000, maxLineLength: 8 + Math.floor(rnd() * 8), bareLineFeed: mode };
        const ref = referenceCheck(bytes, o);
        const { out, checker } = run(o, chunks);
        const got = checker.failed && 'line' in checker.failed ? { kind: checker.failed.kind, line: checker.failed.line } : checker.failed;
        assert.deepEqual(got, ref.violation, `case ${i} (${mode}): ${JSON.stringify(bytes.toString('latin1'))}`);
        if (!ref.violation) assert.deepEqual(out, ref.out, `case ${i} (${mode}) output`);
      }
    }
  });

  test('a 100 KB message in 16 KB chunks passes unchanged, and one bad byte deep inside is found on its line', () => {
    const line = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n';
    const body = Buffer.from(line.repeat(1400));
    const cut = (b: Buffer) => Array.from({ length: Math.ceil(b.length / 16384) }, (_, k) => b.subarray(k * 16384, (k + 1) * 16384));
    const o = { maxBytes: 200_000, maxLineLength: 998, bareLineFeed: 'reject' as const };
    assert.deepEqual(run(o, cut(body)).out, body);
    for (const [bad, kind] of [[0x00, 'nul'], [0x0a, 'bare-lf'], [0x0d, 'bare-cr']] as const) {
      const b = Buffer.from(body);
      b[line.length * 999 + 10] = bad;
      assert.deepEqual(run(o, cut(b)).checker.failed, { kind, line: 1000 });
    }
    const long = Buffer.concat([body.subarray(0, line.length * 5), Buffer.alloc(999, 0x41), Buffer.from('\r\n')]);
    assert.deepEqual(run(o, cut(long)).checker.failed, { kind: 'line-too-long', limit: 998, line: 6 });
  });
});

describe('SMTP DATA encoder (client side)', () => {
  const enc = (s: string) => Buffer.concat(encodeDataSection(Buffer.from(s, 'latin1'))).toString('latin1');

  test('dots are stuffed at line starts only; the terminator follows a line end', () => {
    assert.equal(enc('a\r\n.b\r\n..c\r\nd.e\r\n'), 'a\r\n..b\r\n...c\r\nd.e\r\n.\r\n');
    assert.equal(enc('.\r\n'), '..\r\n.\r\n');
    assert.equal(enc('.'), '..\r\n.\r\n');
    assert.equal(enc('no line end'), 'no line end\r\n.\r\n');
    assert.equal(enc(''), '.\r\n');
  });

  test('bare CR and bare LF become CRLF, so "\\r.\\r" or "\\n.\\n" cannot end the data early', () => {
    assert.equal(enc('a\nb\rc\r\n'), 'a\r\nb\r\nc\r\n.\r\n');
    assert.equal(enc('x\r.\r'), 'x\r\n..\r\n.\r\n');
    assert.equal(enc('x\n.\nmore'), 'x\r\n..\r\nmore\r\n.\r\n');
    assert.equal(enc('\r\r\n\n'), '\r\n\r\n\r\n.\r\n');
  });

  test('a message that needs no change goes out uncopied', () => {
    const m = Buffer.from('abc\r\n'.repeat(1000));
    const parts = encodeDataSection(m);
    assert.equal(parts[0], m);
    assert.equal(parts[1]!.toString(), '.\r\n');
  });

  test('cleanFrom: only the part before it is walked, the rest goes out as it is', () => {
    const tail = Buffer.from('QUJD\r\nREVG\r\n');
    const clean = Buffer.concat([Buffer.from('Subject: a\r\n\r\n'), tail]);
    const parts = encodeDataSection(clean, clean.length - tail.length);
    assert.equal(parts.length, 2);
    assert.equal(parts[0], clean, 'nothing to change: the message itself, uncopied');
    const dirty = Buffer.concat([Buffer.from('Subject: a\n.x: y\r\n\r\n'), tail]);
    const out = encodeDataSection(dirty, dirty.length - tail.length);
    assert.equal(Buffer.concat(out).toString('latin1'), 'Subject: a\r\n..x: y\r\n\r\nQUJD\r\nREVG\r\n.\r\n');
    assert.equal(out[1]!.buffer, dirty.buffer, 'the clean part is not copied');
    assert.throws(() => encodeDataSection(clean, 3), RangeError, 'the clean part must start at a line start');
    assert.throws(() => encodeDataSection(Buffer.from('a\r\nb'), 3), RangeError, 'and end with a line end');
    assert.deepEqual(encodeDataSection(clean, clean.length + 10).map(String), [clean.toString(), '.\r\n'], 'past the end: the whole message is walked');
  });

  test('fuzz: with a clean tail, cleanFrom changes nothing on the wire', () => {
    const rnd = prng(0x2f6b1c);
    const alphabet = [0x0d, 0x0a, 0x2e, 0x41, 0x20];
    const b64 = Buffer.from(Array.from({ length: 200 }, () => Math.floor(rnd() * 256))).toString('base64').replace(/.{1,76}/g, '$&\r\n');
    for (let i = 0; i < 2000; i++) {
      const head = Buffer.from(Array.from({ length: Math.floor(rnd() * 30) }, () => alphabet[Math.floor(rnd() * alphabet.length)]!).concat([0x0d, 0x0a]));
      const tail = Buffer.from(b64.slice(0, 78 * Math.floor(rnd() * 3 + 1)), 'latin1');
      const m = Buffer.concat([head, tail]);
      assert.equal(Buffer.concat(encodeDataSection(m, head.length)).toString('latin1'), Buffer.concat(encodeDataSection(m)).toString('latin1'), `case ${i}`);
    }
  });

  test('fuzz: a receiver reading the output up to the first CRLF.CRLF gets the input back, line ends normalised', () => {
    let seed = 0x1b873593;
    const rnd = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x100000000;
    };
    const alphabet = [0x0d, 0x0a, 0x2e, 0x2e, 0x41, 0x20, 0xe4];
    for (let i = 0; i < 3000; i++) {
      const input = Buffer.from(Array.from({ length: Math.floor(rnd() * 40) }, () => alphabet[Math.floor(rnd() * alphabet.length)]!)).toString('latin1');
      const wire = '\r\n' + enc(input); // as after the 354 line
      assert.doesNotMatch(wire, /\r(?!\n)|(?<!\r)\n/, `case ${i}: no bare CR or LF on the wire`);
      const end = wire.indexOf('\r\n.\r\n');
      assert.equal(end + 5, wire.length, `case ${i}: the only end of data is the last one`);
      const received = wire
        .slice(2, end + 2)
        .split('\r\n')
        .slice(0, -1)
        .map((l) => (l.startsWith('.') ? l.slice(1) : l) + '\r\n')
        .join('');
      const normalised = input.replace(/\r\n|\r|\n/g, '\r\n');
      const expected = normalised === '' || normalised.endsWith('\r\n') ? normalised : normalised + '\r\n';
      assert.equal(received, expected, `case ${i}: ${JSON.stringify(input)}`);
    }
  });
});
