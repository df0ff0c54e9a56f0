import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mime } from '../../../src/wire/index.js';
import { prng } from '../../helpers/prng.js';

// The byte-preserving multipart splitter (RFC 2046 5.1.1) the Vermerk splices into: offsets of
// preamble, parts, delimiters and epilogue, such that the pieces put together are the input.

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const text = (body: Uint8Array, r: mime.ByteRange): string => Buffer.from(body).subarray(r.start, r.end).toString('latin1');

function layout(body: Buffer, boundary: string, opts?: mime.SplitOptions): mime.MultipartLayout {
  const split = mime.splitMultipart(body, boundary, opts);
  assert.ok(split.ok, `expected a complete multipart, got ${JSON.stringify(split)}`);
  return split;
}

/** The split as strings: preamble, parts, epilogue. */
function pieces(body: Buffer, boundary: string) {
  const l = layout(body, boundary);
  return { preamble: text(body, l.preamble), parts: l.parts.map((p) => text(body, p)), epilogue: body.subarray(l.close.end).toString('latin1') };
}

/** Every byte accounted for: preamble, then per part its delimiter and bytes, then the close delimiter and the epilogue. */
function assertTiles(body: Buffer, l: { preamble: mime.ByteRange; parts: readonly mime.ByteRange[]; delimiters: readonly mime.Delimiter[]; close?: mime.Delimiter }, what: string): void {
  let at = 0;
  assert.equal(l.preamble.start, 0, what);
  at = l.preamble.end;
  l.delimiters.forEach((d, i) => {
    assert.equal(d.start, at, `${what}: delimiter ${i} starts where the piece before ends`);
    assert.ok(d.start <= d.line && d.line < d.end, what);
    assert.equal(body.subarray(d.line, d.line + 2).toString(), '--', what);
    assert.equal(l.parts[i]!.start, d.end, what);
    at = l.parts[i]!.end;
  });
  if (l.close) {
    assert.equal(l.close.start, at, `${what}: the close delimiter follows the last part`);
    assert.ok(l.close.end <= body.length, what);
  } else {
    assert.equal(at, body.length, `${what}: without a close delimiter the last part runs to the end`);
  }
}

describe('wire/mime splitMultipart: RFC 2046 5.1.1', () => {
  test('preamble, parts and epilogue; the CRLF before a delimiter line belongs to the delimiter', () => {
    const body = b('This is the preamble.\r\n--b1\r\nContent-Type: text/plain\r\n\r\nfirst\r\n--b1\r\n\r\nsecond\r\n\r\n--b1--\r\nThis is the epilogue.\r\n');
    assert.deepEqual(pieces(body, 'b1'), {
      preamble: 'This is the preamble.',
      parts: ['Content-Type: text/plain\r\n\r\nfirst', '\r\nsecond\r\n'],
      epilogue: 'This is the epilogue.\r\n',
    });
    const l = layout(body, 'b1');
    assert.deepEqual(l.delimiters[0], { start: 21, line: 23, end: 29 });
    assert.equal(body.subarray(l.close.line, l.close.end).toString(), '--b1--\r\n');
    assertTiles(body, l, 'rfc example');
  });

  test('no preamble: the body starts with the first delimiter line; no epilogue; close without line end', () => {
    assert.deepEqual(pieces(b('--b\r\nA\r\n--b--'), 'b'), { preamble: '', parts: ['A'], epilogue: '' });
    assert.deepEqual(pieces(b('\r\n--b\r\nA\r\n--b--\r\n'), 'b'), { preamble: '', parts: ['A'], epilogue: '' }, 'a leading CRLF belongs to the first delimiter');
  });

  test('transport padding (spaces, tabs) after a delimiter and after the close delimiter', () => {
    assert.deepEqual(pieces(b('--b \t \r\nA\r\n--b\t\r\nB\r\n--b--  \r\nepi'), 'b'), { preamble: '', parts: ['A', 'B'], epilogue: 'epi' });
    assert.deepEqual(pieces(b('--b\r\nA\r\n--b-- junk on the close line\r\nepi'), 'b'), { preamble: '', parts: ['A'], epilogue: 'epi' }, 'whatever follows the close delimiter on its line is ignored');
  });

  test('bare LF line ends (OpenSSL), and mixed', () => {
    assert.deepEqual(pieces(b('pre\n--b\nA\n--b\r\nB\r\n--b--\nepi'), 'b'), { preamble: 'pre', parts: ['A', 'B'], epilogue: 'epi' });
  });

  test('only `--boundary` at a line start is a delimiter: not inside a line, not with more after it', () => {
    const body = b('--b\r\nsee --b here\r\n--bb\r\n--b-x\r\n--b x\r\n-- b\r\n--B\r\n--b--\r\n');
    assert.deepEqual(pieces(body, 'b').parts, ['see --b here\r\n--bb\r\n--b-x\r\n--b x\r\n-- b\r\n--B']);
  });

  test('a nested multipart whose boundary extends the outer one is not split by the outer one', () => {
    const body = b('--outer\r\nContent-Type: multipart/mixed; boundary="outer-inner"\r\n\r\n--outer-inner\r\nx\r\n--outer-inner--\r\n--outer--\r\n');
    const { parts } = pieces(body, 'outer');
    assert.equal(parts.length, 1);
    assert.deepEqual(pieces(b(parts[0]!.slice(parts[0]!.indexOf('\r\n\r\n') + 4)), 'outer-inner').parts, ['x']);
  });

  test('empty parts: delimiters on consecutive lines, and a delimiter right before the close', () => {
    const body = b('--b\r\n--b\n--b\r\n--b--\r\n');
    const l = layout(body, 'b');
    assert.deepEqual(l.parts.map((p) => text(body, p)), ['', '', '']);
    assertTiles(body, l, 'empty parts');
  });

  test('offsets are relative to the view given (the Vermerk passes the body of a larger message)', () => {
    const message = b('Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nA\r\n--b--\r\n');
    const body = message.subarray(message.indexOf('\r\n\r\n') + 4);
    const l = layout(body, 'b');
    assert.deepEqual(l.parts[0], { start: 5, end: 6 });
  });

  test('boundaries: 1 to 70 printable ASCII characters, spaces inside but not at the end', () => {
    for (const ok of ['a', 'x'.repeat(70), "'()+_,-./:=? 0", '=_postamt_dsn_0123', 'with space x']) {
      assert.equal(mime.isValidBoundary(ok), true, ok);
      assert.equal(layout(b(`--${ok}\r\nA\r\n--${ok}--\r\n`), ok).parts.length, 1, ok);
    }
    for (const bad of ['', 'x'.repeat(71), 'trailing ', 'tab\tx', 'cr\rx', 'lf\nx', 'nul\0', 'ümlaut', '\x7f']) {
      assert.equal(mime.isValidBoundary(bad), false, JSON.stringify(bad));
      assert.deepEqual(mime.splitMultipart(b(`--${bad}\r\nA\r\n--${bad}--\r\n`), bad), { ok: false, reason: 'invalid-boundary' }, JSON.stringify(bad));
    }
  });
});

describe('wire/mime splitMultipart: damaged and hostile bodies', () => {
  test('no delimiter line at all, or only a close delimiter: no-parts', () => {
    assert.deepEqual(mime.splitMultipart(b('just text\r\n--c\r\n'), 'b'), { ok: false, reason: 'no-parts' });
    assert.deepEqual(mime.splitMultipart(new Uint8Array(0), 'b'), { ok: false, reason: 'no-parts' });
    assert.deepEqual(mime.splitMultipart(b('pre\r\n--b--\r\n--b\r\nA\r\n--b--\r\n'), 'b'), { ok: false, reason: 'no-parts' }, 'a close before any part ends the search');
  });

  test('missing final boundary (a truncated message): no-close-delimiter with the parts found, the last running to the end', () => {
    const body = b('pre\r\n--b\r\nA\r\n--b\r\nB, cut off here');
    const split = mime.splitMultipart(body, 'b');
    assert.equal(split.ok, false);
    assert.ok(!split.ok && split.reason === 'no-close-delimiter');
    assert.equal(text(body, split.preamble), 'pre');
    assert.deepEqual(split.parts.map((p) => text(body, p)), ['A', 'B, cut off here']);
    assertTiles(body, split, 'truncated');
    const atEnd = b('--b\r\nA\r\n--b');
    const s2 = mime.splitMultipart(atEnd, 'b');
    assert.ok(!s2.ok && s2.reason === 'no-close-delimiter');
    assert.deepEqual(s2.parts.map((p) => text(atEnd, p)), ['A', ''], 'a delimiter line without a line end opens an empty last part');
  });

  test('more parts than maxParts: too-many-parts, checked before each new part', () => {
    const body = b('--b\r\n' + 'x\r\n--b\r\n'.repeat(9) + 'x\r\n--b--\r\n');
    assert.equal(layout(body, 'b', { maxParts: 10 }).parts.length, 10);
    assert.deepEqual(mime.splitMultipart(body, 'b', { maxParts: 9 }), { ok: false, reason: 'too-many-parts' });
    assert.deepEqual(mime.splitMultipart(b('--b\r\n'.repeat(10_001) + '--b--'), 'b'), { ok: false, reason: 'too-many-parts' }, 'the default is 10 000');
    assert.equal(layout(b('--b\r\n'.repeat(10_000) + '--b--'), 'b').parts.length, 10_000);
  });

  test('whatever the bytes: pieces that tile the input, agreeing with a line-by-line reference', () => {
    const rnd = prng(2046);
    const atoms = ['--b', '--b--', '--bx', '-', 'b', 'x', ' ', '\t', '\r\n', '\n', '\r', '--b\r\n', '\r\n--b\r\n', '\r\n--b--'];
    for (let i = 0; i < 5000; i++) {
      let s = '';
      const len = Math.floor(rnd() * 24);
      for (let j = 0; j < len; j++) s += atoms[Math.floor(rnd() * atoms.length)];
      const body = b(s);
      const got = mime.splitMultipart(body, 'b', { maxParts: 50 });
      const want = reference(body, 'b', 50);
      assert.deepEqual(got, want, `case ${i} ${JSON.stringify(s)}`);
      if (got.ok || got.reason === 'no-close-delimiter') assertTiles(body, got, `case ${i} ${JSON.stringify(s)}`);
    }
  });

  test('large bodies are one pass: near-miss lines, boundaries inside lines, huge parts', { timeout: 20_000 }, () => {
    // A rescan from the start per candidate would be ~10^12 steps on these and not finish.
    const nearMisses = b('--b\r\n' + '--bx\r\n'.repeat(1_000_000) + '--b--\r\n');
    assert.equal(layout(nearMisses, 'b').parts.length, 1);
    const inLines = b('--b\r\n' + 'x--b'.repeat(1_000_000) + '\r\n--b--\r\n');
    assert.equal(layout(inLines, 'b').parts[0]!.end, inLines.length - 9);
    const huge = Buffer.concat([b('--b\r\n'), Buffer.alloc(32 * 1024 * 1024, 0x2d), b('\r\n--b--\r\n')]);
    assert.equal(layout(huge, 'b').parts[0]!.end - 5, 32 * 1024 * 1024, 'a part of 32 MiB of dashes');
    const longBoundary = 'x'.repeat(69) + 'y';
    const partial = b(`--${longBoundary}\r\n` + `--${'x'.repeat(70)}\r\n`.repeat(100_000) + `--${longBoundary}--`);
    assert.equal(layout(partial, longBoundary).parts.length, 1);
  });
});

/**
 * The splitter's rules stated line by line: a line (without its line end) that is `--b` plus
 * spaces/tabs is a delimiter, one that starts `--b--` is the close; a delimiter's start is the
 * line break before it, but never before the previous delimiter's end.
 */
function reference(body: Buffer, boundary: string, maxParts: number): mime.MultipartSplit {
  const s = body.toString('latin1');
  const dash = `--${boundary}`;
  const delimiters: mime.Delimiter[] = [];
  let lineStart = 0;
  while (lineStart <= s.length) {
    const nl = s.indexOf('\n', lineStart);
    const lineEnd = nl < 0 ? s.length : nl + 1;
    const content = s.slice(lineStart, nl < 0 ? s.length : nl > lineStart && s[nl - 1] === '\r' ? nl - 1 : nl);
    const prevEnd = delimiters.at(-1)?.end ?? 0;
    const breakBefore = lineStart === 0 ? 0 : lineStart >= 2 && s[lineStart - 2] === '\r' ? lineStart - 2 : lineStart - 1;
    const start = Math.max(prevEnd, breakBefore);
    // A line that starts `--b--` is the close whatever its line end (even `--b--\r` before LF).
    if (s.startsWith(`${dash}--`, lineStart)) {
      if (delimiters.length === 0) return { ok: false, reason: 'no-parts' };
      const close = { start, line: lineStart, end: lineEnd };
      const parts = delimiters.map((d, i) => ({ start: d.end, end: delimiters[i + 1]?.start ?? close.start }));
      return { ok: true, preamble: { start: 0, end: delimiters[0]!.start }, parts, delimiters, close };
    }
    if (content.startsWith(dash) && /^[ \t]*$/.test(content.slice(dash.length))) {
      if (delimiters.length >= maxParts) return { ok: false, reason: 'too-many-parts' };
      delimiters.push({ start, line: lineStart, end: lineEnd });
    }
    if (nl < 0) break;
    lineStart = lineEnd;
  }
  if (delimiters.length === 0) return { ok: false, reason: 'no-parts' };
  const parts = delimiters.map((d, i) => ({ start: d.end, end: delimiters[i + 1]?.start ?? s.length }));
  return { ok: false, reason: 'no-close-delimiter', preamble: { start: 0, end: delimiters[0]!.start }, parts, delimiters };
}

describe('wire/mime splitMultipart: the byte ranges the Vermerk splices into', () => {
  test('preamble, parts and close delimiter as byte ranges; the CRLF before a delimiter is its own', () => {
    const body = Buffer.from('preamble\r\n--b\r\nA: 1\r\n\r\none\r\n--b  \t\r\n\r\ntwo\r\n\r\n--b--\r\nepilogue\r\n', 'latin1');
    const s = mime.splitMultipart(body, 'b');
    assert.equal(s.ok, true);
    if (!s.ok) return;
    assert.equal(body.subarray(s.preamble.start, s.preamble.end).toString('latin1'), 'preamble');
    assert.deepEqual(
      s.parts.map((p) => body.subarray(p.start, p.end).toString('latin1')),
      ['A: 1\r\n\r\none', '\r\ntwo\r\n'],
      'transport padding after the boundary is part of the delimiter line',
    );
    assert.equal(body.subarray(s.close.start, s.close.end).toString('latin1'), '\r\n--b--\r\n');
    assert.equal(body.subarray(s.close.end).toString('latin1'), 'epilogue\r\n');
    assert.equal(s.delimiters[0]!.line, 10);
  });

  test('a delimiter at offset 0, bare LF line ends, empty parts, a longer line that only starts with the boundary', () => {
    const body = Buffer.from('--b\n--b\nx\n--bX\n--b\n--b--', 'latin1');
    const s = mime.splitMultipart(body, 'b');
    assert.equal(s.ok, true);
    if (!s.ok) return;
    assert.deepEqual(s.preamble, { start: 0, end: 0 });
    assert.deepEqual(
      s.parts.map((p) => body.subarray(p.start, p.end).toString('latin1')),
      ['', 'x\n--bX', ''],
    );
    assert.equal(s.close.end, body.length);
  });

  test('the boundary only counts at the start of a line', () => {
    const body = Buffer.from('--b\r\nsee --b\r\n--b--\r\n', 'latin1');
    const s = mime.splitMultipart(body, 'b');
    assert.ok(s.ok);
    assert.deepEqual(s.parts.map((p) => body.subarray(p.start, p.end).toString('latin1')), ['see --b']);
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
    assert.deepEqual(open.parts.map((p) => body.subarray(p.start, p.end).toString('latin1')), ['one', 'two']);
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
