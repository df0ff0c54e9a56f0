import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mime } from '../../../src/wire/index.js';
import { prng } from '../../helpers/prng.js';

// Header edits on a message's bytes (the client module's copy plan, sealing): every byte not
// named in the edit stays as it was, and the result is again a readable header block.

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** `message` edited; `field` picks a field of its block by name (the first of that name). */
function edit(message: string, build: (field: (name: string) => mime.HeaderField) => mime.HeaderEdit): string {
  const bytes = b(message);
  const block = mime.readHeaderBlock(bytes);
  const field = (name: string) => mime.findField(block.fields, name) ?? assert.fail(`no ${name}`);
  return mime.editHeader(bytes, block, build(field)).toString('latin1');
}

describe('wire/mime editHeader', () => {
  const MSG = 'Received: x\r\nTo: a@x.test,\r\n b@x.test\r\nBcc: c@x.test\r\nSubject: \xe4\r\n\r\nbody\r\n.\r\n';

  test('drop, replace, prepend and append in one pass; folding, 8-bit bytes and the body untouched', () => {
    const out = edit(MSG, (f) => ({
      drop: new Set([f('Bcc')]),
      replace: new Map([[f('To'), 'To: a@x.test\r\n']]),
      prepend: ['X-First: 1\r\n'],
      append: ['Message-ID: <m@x.test>\r\n', 'X-Last: 2\r\n'],
    }));
    assert.equal(out, 'X-First: 1\r\nReceived: x\r\nTo: a@x.test\r\nSubject: \xe4\r\nMessage-ID: <m@x.test>\r\nX-Last: 2\r\n\r\nbody\r\n.\r\n');
  });

  test('an empty edit returns the message itself: the same memory, no copy', () => {
    const bytes = b(MSG);
    const block = mime.readHeaderBlock(bytes);
    for (const e of [{}, { drop: new Set<mime.HeaderField>(), replace: new Map<mime.HeaderField, string>(), prepend: [], append: [] }]) {
      const out = mime.editHeader(bytes, block, e);
      assert.equal(out.buffer, bytes.buffer);
      assert.equal(out.byteOffset, bytes.byteOffset);
      assert.equal(out.length, bytes.length);
    }
  });

  test('a field both dropped and replaced is dropped; fields of another block are ignored', () => {
    assert.equal(edit(MSG, (f) => ({ drop: new Set([f('Bcc')]), replace: new Map([[f('Bcc'), 'Bcc: z\r\n']]) })), MSG.replace('Bcc: c@x.test\r\n', ''));
    const other = mime.readHeaderBlock(b(MSG)).fields[0]!;
    assert.equal(edit(MSG, () => ({ drop: new Set([other]), append: ['X: 1\r\n'] })), MSG.replace('\r\n\r\n', '\r\nX: 1\r\n\r\n'), 'identity, not equal bytes, picks a field');
  });

  test('every field dropped: prepended and appended fields make the header; none: an empty header block', () => {
    const all = (f: (n: string) => mime.HeaderField) => new Set(['Received', 'To', 'Bcc', 'Subject'].map(f));
    assert.equal(edit(MSG, (f) => ({ drop: all(f), append: ['A: 1\r\n'] })), 'A: 1\r\n\r\nbody\r\n.\r\n');
    assert.equal(edit(MSG, (f) => ({ drop: all(f) })), '\r\nbody\r\n.\r\n');
  });

  test('a message without body: appended fields go at its end; a missing final line break is added first', () => {
    assert.equal(edit('A: 1\r\nB: 2\r\n', () => ({ append: ['C: 3\r\n'] })), 'A: 1\r\nB: 2\r\nC: 3\r\n');
    assert.equal(edit('A: 1\r\nB: 2', () => ({ append: ['C: 3\r\n'] })), 'A: 1\r\nB: 2\r\nC: 3\r\n');
    assert.equal(edit('A: 1\nB: 2', () => ({ prepend: ['P: 0\r\n'] })), 'P: 0\r\nA: 1\nB: 2', 'prepending needs no line break');
  });

  test('the unterminated last field dropped or replaced: no empty line before the appended fields', () => {
    // This once wrote `A: 1\r\n\r\nC: 3\r\n` — the appended field became body.
    assert.equal(edit('A: 1\r\nB: 2', (f) => ({ drop: new Set([f('B')]), append: ['C: 3\r\n'] })), 'A: 1\r\nC: 3\r\n');
    assert.equal(edit('A: 1\r\nB: 2', (f) => ({ replace: new Map([[f('B'), 'B: x\r\n']]), append: ['C: 3\r\n'] })), 'A: 1\r\nB: x\r\nC: 3\r\n');
    assert.equal(edit('B: 2', (f) => ({ drop: new Set([f('B')]), append: ['C: 3\r\n'] })), 'C: 3\r\n');
    assert.equal(edit('B: 2', (f) => ({ drop: new Set([f('B')]), prepend: ['P: 1\r\n'], append: ['C: 3\r\n'] })), 'P: 1\r\nC: 3\r\n');
    for (const out of [edit('A: 1\r\nB: 2', (f) => ({ drop: new Set([f('B')]), append: ['C: 3\r\n'] }))]) {
      assert.deepEqual(mime.readHeaderBlock(b(out)).fields.map((x) => x.name), ['A', 'C']);
    }
  });

  test('an empty message, and a message that is only the empty line', () => {
    const empty = new Uint8Array(0);
    assert.equal(mime.editHeader(empty, mime.readHeaderBlock(empty), { append: ['A: 1\r\n'] }).toString(), 'A: 1\r\n');
    assert.equal(edit('\r\nbody', () => ({ prepend: ['A: 1\r\n'], append: ['B: 2\r\n'] })), 'A: 1\r\nB: 2\r\n\r\nbody');
  });

  test('an LF-only message keeps its line ends; the new fields are written as given', () => {
    assert.equal(edit('A: 1\nB: 2\n\nbody\n', (f) => ({ drop: new Set([f('A')]), append: ['C: 3\r\n'] })), 'B: 2\nC: 3\r\n\nbody\n');
  });

  test('random edits: untouched fields keep their bytes, order and the body; the result reads back with the expected names', () => {
    const rnd = prng(5322);
    const names = ['A', 'B', 'C', 'D', 'E'];
    for (let i = 0; i < 2000; i++) {
      const n = 1 + Math.floor(rnd() * 5);
      const fields = Array.from({ length: n }, (_, j) => `${names[j]}: v${j}${rnd() < 0.3 ? '\r\n folded' : ''}\r\n`);
      const body = rnd() < 0.3 ? '' : '\r\nbody\r\n';
      let message = fields.join('') + body;
      if (body === '' && rnd() < 0.5) message = message.slice(0, -2); // unterminated last field
      const bytes = b(message);
      const block = mime.readHeaderBlock(bytes);
      const drop = new Set(block.fields.filter(() => rnd() < 0.3));
      const replace = new Map(block.fields.filter((f) => !drop.has(f) && rnd() < 0.3).map((f) => [f, `${f.name}: new\r\n`] as [mime.HeaderField, string]));
      const prepend = rnd() < 0.5 ? ['P: 1\r\n'] : [];
      const append = rnd() < 0.5 ? ['Z: 1\r\n'] : [];
      const out = mime.editHeader(bytes, block, { drop, replace, prepend, append });
      const what = `case ${i} ${JSON.stringify(message)}`;
      const back = mime.readHeaderBlock(out);
      const expected = [...prepend.map(() => 'P'), ...block.fields.filter((f) => !drop.has(f)).map((f) => f.name), ...append.map(() => 'Z')];
      assert.deepEqual(back.fields.map((f) => f.name), expected, what);
      for (const f of back.fields) {
        const orig = block.fields.find((o) => o.name === f.name);
        if (orig && !replace.has(orig)) assert.equal(mime.rawWithCrlf(f), mime.rawWithCrlf(orig), what);
        if (orig && replace.has(orig)) assert.equal(f.value, 'new', what);
      }
      assert.equal(out.subarray(back.bodyStart).toString('latin1'), bytes.subarray(block.bodyStart).toString('latin1'), `${what}: the body`);
      assert.equal(back.hasBody, block.hasBody, what);
    }
  });

  test('many fields and a large body: one copy, linear', { timeout: 20_000 }, () => {
    const message = b('X-A: 1\r\nX-B: 2\r\n'.repeat(50_000) + '\r\n' + 'x'.repeat(32 * 1024 * 1024));
    const block = mime.readHeaderBlock(message);
    const drop = new Set(mime.findFields(block.fields, 'X-B'));
    const out = mime.editHeader(message, block, { drop, append: ['Z: 1\r\n'] });
    assert.equal(out.length, message.length - 8 * 50_000 + 6);
    assert.equal(mime.readHeaderBlock(out).fields.length, 50_001);
  });
});

describe('wire/mime canonicalLineEnds', () => {
  test('bare LF and bare CR become CRLF; CRLF stays; CR CR LF is two line ends', () => {
    assert.equal(mime.canonicalLineEnds(b('a\nb\rc\r\nd\r\r\ne\n\n')).toString(), 'a\r\nb\r\nc\r\nd\r\n\r\ne\r\n\r\n');
    assert.equal(mime.canonicalLineEnds(b('\n')).toString(), '\r\n');
    assert.equal(mime.canonicalLineEnds(b('\r')).toString(), '\r\n');
    assert.equal(mime.canonicalLineEnds(b('end\r')).toString(), 'end\r\n');
  });

  test('input already canonical (or without line ends) is returned without a copy', () => {
    for (const s of ['a\r\nb\r\n\r\nc', '', 'no line end', '\r\n']) {
      const bytes = b(s);
      const out = mime.canonicalLineEnds(bytes);
      assert.equal(out.buffer, bytes.buffer, JSON.stringify(s));
      assert.equal(out.length, bytes.length);
    }
  });

  test('8-bit and NUL bytes pass through; a view into a larger buffer is read only within itself', () => {
    const big = b('\n\nX\xff\0\ny\n\n');
    assert.deepEqual(mime.canonicalLineEnds(big.subarray(2, 7)), b('X\xff\0\r\ny'));
  });

  test('the worst case (every byte a bare LF) doubles the size in one pass', { timeout: 20_000 }, () => {
    const lf = Buffer.alloc(16 * 1024 * 1024, 0x0a);
    const out = mime.canonicalLineEnds(lf);
    assert.equal(out.length, 32 * 1024 * 1024);
    assert.equal(out.indexOf('\n\n'), -1);
    assert.equal(mime.canonicalLineEnds(out).buffer, out.buffer, 'and canonical output is a fixed point, returned without a copy');
    const alternating = Buffer.from('\r\n'.repeat(8 * 1024 * 1024) + '\n');
    assert.equal(mime.canonicalLineEnds(alternating).length, alternating.length + 1);
  });
});
