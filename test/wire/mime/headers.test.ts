import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mime } from '../../../src/wire/index.js';
import { prng } from '../../helpers/prng.js';
import { thrown } from '../../helpers/assert.js';

// The header block reader every KOM-LE path and the client module build on: fields keep their
// raw bytes (so they can be copied unchanged), `value` is unfolded for comparisons, and any
// input gives fields or a HeaderSyntaxError, in one pass.

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const raw = (f: mime.HeaderField): string => Buffer.from(f.raw).toString('latin1');

/** The HeaderSyntaxError's message and offset for `input`. */
function syntaxError(input: Uint8Array, maxBytes?: number): { message: string; offset: number } {
  const err = thrown(mime.HeaderSyntaxError, () => mime.readHeaderBlock(input, maxBytes));
  assert.equal(err.name, 'HeaderSyntaxError');
  return { message: err.message, offset: err.offset };
}

describe('wire/mime readHeaderBlock: fields and body', () => {
  test('fields in order with name, key, raw bytes and unfolded value; the body starts after the empty line', () => {
    const m = b('From: a@x.test\r\nSubject: one\r\n two\r\n\tthree\r\nX-Empty:\r\n\r\nbody\r\n');
    const block = mime.readHeaderBlock(m);
    assert.deepEqual(
      block.fields.map((f) => [f.name, f.key, f.value]),
      [
        ['From', 'from', 'a@x.test'],
        ['Subject', 'subject', 'one two\tthree'],
        ['X-Empty', 'x-empty', ''],
      ],
    );
    assert.equal(raw(block.fields[1]!), 'Subject: one\r\n two\r\n\tthree\r\n', 'folding and the final CRLF kept');
    assert.equal(block.bodyStart, m.indexOf('body'));
    assert.equal(block.hasBody, true);
    assert.equal(block.fields.reduce((n, f) => n + f.raw.length, 0), block.bodyStart - 2, 'the fields cover the header up to the empty line');
  });

  test('raw is a view into the input at the field\'s offset (what editHeader relies on)', () => {
    const big = b('junk before|A: 1\r\nB: 2\r\n\r\nx');
    const view = big.subarray(12);
    const block = mime.readHeaderBlock(view);
    assert.equal(block.fields[1]!.raw.buffer, big.buffer);
    assert.equal(block.fields[1]!.raw.byteOffset - view.byteOffset, 6);
    assert.equal(block.bodyStart, 14, 'offsets relative to the view');
  });

  test('bare LF line ends (OpenSSL S/MIME output) and mixed line ends', () => {
    const block = mime.readHeaderBlock(b('A: 1\nB: 2\n  more\r\nC: 3\n\nbody'));
    assert.deepEqual(block.fields.map((f) => f.value), ['1', '2  more', '3']);
    assert.equal(raw(block.fields[1]!), 'B: 2\n  more\r\n');
    assert.equal(block.bodyStart, 24);
    assert.equal(mime.readHeaderBlock(b('A: 1\r\n\nbody')).bodyStart, 7, 'a bare LF empty line after CRLF fields');
  });

  test('no empty line: all header, no body; the last field may lack its line end', () => {
    const m = b('A: 1\r\nB: 2');
    const block = mime.readHeaderBlock(m);
    assert.deepEqual(block.fields.map((f) => [f.name, raw(f)]), [['A', 'A: 1\r\n'], ['B', 'B: 2']]);
    assert.deepEqual([block.bodyStart, block.hasBody], [m.length, false]);
    assert.deepEqual(mime.readHeaderBlock(new Uint8Array(0)), { fields: [], bodyStart: 0, hasBody: false });
  });

  test('an empty header (the message starts with the empty line)', () => {
    assert.deepEqual(mime.readHeaderBlock(b('\r\nbody')), { fields: [], bodyStart: 2, hasBody: true });
    assert.deepEqual(mime.readHeaderBlock(b('\nbody')), { fields: [], bodyStart: 1, hasBody: true });
  });

  test('names: any printable ASCII but colon; white space before the colon (obs-field, RFC 5322 4.5.8) is no part of the name', () => {
    const block = mime.readHeaderBlock(b('Subject : x\r\nX-!#$%&\'*+-.^_`|~0: y\r\nA:b:c\r\n\r\n'));
    assert.deepEqual(block.fields.map((f) => [f.name, f.key, f.value]), [
      ['Subject', 'subject', 'x'],
      ["X-!#$%&'*+-.^_`|~0", "x-!#$%&'*+-.^_`|~0", 'y'],
      ['A', 'a', 'b:c'],
    ]);
  });

  test('8-bit bytes survive: read as latin1, one character per byte', () => {
    const m = Buffer.concat([b('Subject: '), Buffer.from('Grüße', 'utf8'), b('\r\n\r\n')]);
    const [f] = mime.readHeaderBlock(m).fields;
    assert.equal(Buffer.from(f!.value, 'latin1').toString('utf8'), 'Grüße');
    assert.deepEqual(Buffer.from(f!.raw), m.subarray(0, m.length - 2));
  });

  test('a bare CR inside a line belongs to the line; the body is not looked at', () => {
    const block = mime.readHeaderBlock(b('A: x\ry\r\n\r\n: not a field\r\n\x00\xff'));
    assert.deepEqual(block.fields.map((f) => f.value), ['x\ry']);
  });
});

describe('wire/mime readHeaderBlock: malformed, oversized and hostile input', () => {
  test('a line that is no field, no continuation and not empty: HeaderSyntaxError at its offset', () => {
    assert.deepEqual(syntaxError(b('A: 1\r\nno colon here\r\n\r\n')), { message: 'not a header field (name: value)', offset: 6 });
    assert.deepEqual(syntaxError(b(': empty name\r\n')), { message: 'not a header field (name: value)', offset: 0 });
    assert.deepEqual(syntaxError(b('Bad Name: x\r\n')), { message: 'not a header field (name: value)', offset: 0 });
    assert.deepEqual(syntaxError(b('A: 1\r\nNo colon\r\nB: x:y\r\n')).offset, 6, 'a colon on a later line does not count');
    assert.deepEqual(syntaxError(b('N\u00e4me: x\r\n')).offset, 0, 'non-ASCII in a name');
    assert.deepEqual(syntaxError(b('A\x00B: x\r\n')).offset, 0, 'NUL in a name');
    assert.deepEqual(syntaxError(b('\rA: x\r\n')).offset, 0, 'a bare CR at a line start is no empty line');
  });

  test('a continuation line before any field', () => {
    assert.deepEqual(syntaxError(b(' folded: x\r\n')), { message: 'continuation line before the first header field', offset: 0 });
    assert.deepEqual(syntaxError(b('\tx\r\n')).offset, 0);
  });

  test('a header block longer than maxBytes is refused, with or without a body and wherever the limit falls', () => {
    const max = 1000;
    const line = (n: number) => `X: ${'a'.repeat(n - 5)}\r\n`;
    // Fields of exactly maxBytes bytes are fine; one byte more is not.
    assert.equal(mime.readHeaderBlock(b(line(500) + line(500) + '\r\nbody'), max).fields.length, 2);
    assert.equal(mime.readHeaderBlock(b(line(500) + line(500)), max).fields.length, 2);
    assert.equal(mime.readHeaderBlock(b(line(1000)), max).fields.length, 1, 'one field of exactly maxBytes, no body');
    for (const m of [line(500) + line(501) + '\r\nbody', line(500) + line(501), line(1001), line(2000).trimEnd(), 'X: 1\r\n' + 'Y: '.padEnd(5000, 'y'), line(999) + ' '.repeat(5)]) {
      const err = syntaxError(b(m), max);
      assert.equal(err.message, `header block longer than ${max} bytes`, JSON.stringify(m.slice(0, 30)));
      assert.ok(err.offset <= max + 2, `offset ${err.offset} names a line that starts inside the limit or just after it`);
    }
    // The default limit is 1 MiB.
    assert.match(syntaxError(b(line(1024 * 1024 + 1))).message, /longer than 1048576 bytes/);
    assert.equal(mime.readHeaderBlock(b(line(1024 * 1024))).fields.length, 1);
  });

  test('a blob of garbage far beyond maxBytes is refused without being scanned to its end', () => {
    // 64 MiB without a line break or a colon: the reader looks at maxBytes + 2 bytes only. A full
    // scan would still be linear, so the proof is the error: it names the length limit, which a
    // reader that had found the (absent) line end first would not.
    const blob = Buffer.alloc(64 * 1024 * 1024, 0x61);
    assert.deepEqual(syntaxError(blob, 64 * 1024), { message: 'header block longer than 65536 bytes', offset: 0 });
    const noColon = Buffer.concat([b('garbage line'), Buffer.alloc(1024 * 1024, 0x62)]);
    assert.match(syntaxError(noColon, 1024).message, /longer than 1024 bytes/);
    assert.match(syntaxError(b('garbage\r\n:'), 1024).message, /not a header field/, 'within the limit the line is judged');
  });

  test('whatever the bytes: fields or a HeaderSyntaxError, never another error; fields tile the header exactly', () => {
    const rnd = prng(16);
    const alphabet = ['A', 'b', ':', ' ', '\t', '\r', '\n', '\r\n', 'X-1: v', '\x00', '\xff', '-'];
    for (let i = 0; i < 5000; i++) {
      let s = '';
      const len = Math.floor(rnd() * 40);
      for (let j = 0; j < len; j++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      const m = b(s);
      let block: mime.HeaderBlock;
      try {
        block = mime.readHeaderBlock(m, 30);
      } catch (err) {
        assert.ok(err instanceof mime.HeaderSyntaxError, `case ${i} ${JSON.stringify(s)}: ${String(err)}`);
        continue;
      }
      let at = 0;
      for (const f of block.fields) {
        assert.equal(f.raw.byteOffset - m.byteOffset, at, `case ${i}: fields are contiguous`);
        at += f.raw.length;
      }
      const headerEnd = block.hasBody ? block.bodyStart - (m[block.bodyStart - 2] === 0x0d ? 2 : 1) : m.length;
      assert.equal(at, headerEnd, `case ${i} ${JSON.stringify(s)}: fields end where the empty line starts`);
      assert.ok(headerEnd <= 30, `case ${i}: within maxBytes`);
    }
  });

  test('large input is one pass: a million continuation lines, a hundred thousand fields', { timeout: 20_000 }, () => {
    // Quadratic work on these (a rescan per line) would be 10^11 steps or more and not finish.
    const folded = b('Subject: x' + '\r\n y'.repeat(1_000_000) + '\r\n\r\n');
    const [f] = mime.readHeaderBlock(folded, folded.length).fields;
    assert.equal(f!.value.length, 1 + 2 * 1_000_000);
    const many = b('X-A: 1\r\n'.repeat(100_000) + '\r\n');
    assert.equal(mime.readHeaderBlock(many).fields.length, 100_000);
    assert.equal(mime.findFields(mime.readHeaderBlock(many).fields, 'x-a').length, 100_000);
  });
});

describe('wire/mime header helpers', () => {
  test('unfold (RFC 5322 2.2.3): a line break before white space goes, the white space stays; outer white space trimmed', () => {
    assert.equal(mime.unfold(' a\r\n b\r\n\tc \r\n'), 'a b\tc');
    assert.equal(mime.unfold('a\n b'), 'a b', 'bare LF');
    assert.equal(mime.unfold('a\r\n\r\n b'), 'a\r\n b', 'only a line break directly before white space is folding');
    assert.equal(mime.unfold('a\r\nb'), 'a\r\nb', 'a line break before a non-space is not folding and stays');
    assert.equal(mime.unfold(''), '');
  });

  test('comparableValue: whitespace runs (folding included) one space', () => {
    assert.equal(mime.comparableValue('  a \r\n\t b   c '), 'a b c');
    assert.equal(mime.comparableValue('a\r\n b'), mime.comparableValue('a b'));
  });

  test('findField and findFields: case-insensitive, first and all in order, none', () => {
    const { fields } = mime.readHeaderBlock(b('Received: 1\r\nSubject: s\r\nRECEIVED: 2\r\nreceived: 3\r\n\r\n'));
    assert.equal(mime.findField(fields, 'received')?.value, '1');
    assert.equal(mime.findField(fields, 'SUBJECT')?.value, 's');
    assert.deepEqual(mime.findFields(fields, 'Received').map((f) => f.value), ['1', '2', '3']);
    assert.equal(mime.findField(fields, 'To'), undefined);
    assert.deepEqual(mime.findFields(fields, 'To'), []);
  });

  test('rawWithCrlf: LF made CRLF, a missing final line break added, folding and bytes kept', () => {
    const { fields } = mime.readHeaderBlock(b('A: 1\n 2\nB: \xe4\r\n\tx\r\nC: end'));
    assert.deepEqual(fields.map(mime.rawWithCrlf), ['A: 1\r\n 2\r\n', 'B: \xe4\r\n\tx\r\n', 'C: end\r\n']);
  });

  test('formatField: `Name: value` CRLF; a line break in the value or a bad name is refused', () => {
    assert.equal(mime.formatField('Subject', 'hi'), 'Subject: hi\r\n');
    assert.equal(mime.formatField('X-Empty', ''), 'X-Empty: \r\n');
    assert.throws(() => mime.formatField('Subject', 'a\r\nBcc: x'), /header Subject: value contains a line break/);
    assert.throws(() => mime.formatField('Subject', 'a\nb'), /line break/);
    assert.throws(() => mime.formatField('Subject', 'a\rb'), /line break/);
    for (const name of ['', 'Bad Name', 'A:B', 'Ä', 'A\r\nB']) assert.throws(() => mime.formatField(name, 'x'), /invalid header field name/, JSON.stringify(name));
    // What formatField writes, readHeaderBlock reads back as the same field.
    const [f] = mime.readHeaderBlock(b(mime.formatField('X-Test', 'a: b; c'))).fields;
    assert.deepEqual([f!.name, f!.value], ['X-Test', 'a: b; c']);
  });
});
