import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mime } from '../src/wire/index.js';

// The byte-preserving multipart splitter the client module's notes (KOM-LE-A_2179-01) rest on.

const latin1 = (b: Buffer): string => b.toString('latin1');

describe('wire/mime splitMultipart (RFC 2046 5.1.1)', () => {
  test('preamble, parts and close delimiter as byte ranges; the CRLF before a delimiter is its own', () => {
    const body = Buffer.from('preamble\r\n--b\r\nA: 1\r\n\r\none\r\n--b  \t\r\n\r\ntwo\r\n\r\n--b--\r\nepilogue\r\n', 'latin1');
    const s = mime.splitMultipart(body, 'b');
    assert.equal(s.ok, true);
    if (!s.ok) return;
    assert.equal(latin1(body.subarray(s.preamble.start, s.preamble.end)), 'preamble');
    assert.deepEqual(
      s.parts.map((p) => latin1(body.subarray(p.start, p.end))),
      ['A: 1\r\n\r\none', '\r\ntwo\r\n'],
      'transport padding after the boundary is part of the delimiter line',
    );
    assert.equal(latin1(body.subarray(s.close.start, s.close.end)), '\r\n--b--\r\n');
    assert.equal(latin1(body.subarray(s.close.end)), 'epilogue\r\n');
    assert.equal(s.delimiters[0]!.line, 10);
  });

  test('a delimiter at offset 0, bare LF line ends, empty parts, a longer line that only starts with the boundary', () => {
    const body = Buffer.from('--b\n--b\nx\n--bX\n--b\n--b--', 'latin1');
    const s = mime.splitMultipart(body, 'b');
    assert.equal(s.ok, true);
    if (!s.ok) return;
    assert.deepEqual(s.preamble, { start: 0, end: 0 });
    assert.deepEqual(
      s.parts.map((p) => latin1(body.subarray(p.start, p.end))),
      ['', 'x\n--bX', ''],
    );
    assert.equal(s.close.end, body.length);
  });

  test('the boundary only counts at the start of a line', () => {
    const body = Buffer.from('--b\r\nsee --b\r\n--b--\r\n', 'latin1');
    const s = mime.splitMultipart(body, 'b');
    assert.ok(s.ok);
    assert.deepEqual(s.parts.map((p) => latin1(body.subarray(p.start, p.end))), ['see --b']);
  });

  test('typed failures: invalid boundary, no parts, no close delimiter (parts so far), too many parts', () => {
    const body = Buffer.from('--b\r\none\r\n--b\r\ntwo', 'latin1');
    assert.deepEqual(mime.splitMultipart(body, ''), { ok: false, reason: 'invalid-boundary' });
    assert.deepEqual(mime.splitMultipart(body, 'x'.repeat(71)), { ok: false, reason: 'invalid-boundary' });
    assert.deepEqual(mime.splitMultipart(body, 'a\r\nb'), { ok: false, reason: 'invalid-boundary' });
    assert.equal(mime.splitMultipart(body, 'x'.repeat(70)).ok, false);
    assert.deepEqual(mime.splitMultipart(Buffer.from('just text\r\n'), 'b'), { ok: false, reason: 'no-parts' });
    assert.deepEqual(mime.splitMultipart(Buffer.from('--b--\r\n'), 'b'), { ok: false, reason: 'no-parts' });
    const open = mime.splitMultipart(body, 'b');
    assert.equal(open.ok, false);
    if (open.ok || open.reason !== 'no-close-delimiter') throw new Error('expected no-close-delimiter');
    assert.deepEqual(open.parts.map((p) => latin1(body.subarray(p.start, p.end))), ['one', 'two']);
    assert.deepEqual(mime.splitMultipart(Buffer.from('--b\r\n'.repeat(5) + '--b--'), 'b', { maxParts: 3 }), { ok: false, reason: 'too-many-parts' });
  });

  test('linear in the input: 200 000 near-miss lines split quickly', () => {
    const body = Buffer.from('--bb\r\n' + '--bX\r\n'.repeat(200_000) + '--bb--\r\n', 'latin1');
    const t0 = process.hrtime.bigint();
    const s = mime.splitMultipart(body, 'bb');
    assert.ok(s.ok);
    assert.equal(s.parts.length, 1);
    assert.ok(Number(process.hrtime.bigint() - t0) / 1e6 < 500);
  });
});

