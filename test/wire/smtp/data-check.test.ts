import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { DataChecker, describeViolation, type DataCheckOptions } from '../../../src/wire/smtp/index.js';

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

