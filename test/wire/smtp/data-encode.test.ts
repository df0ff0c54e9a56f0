import { test, describe } from 'node:test';
import { prng } from '../../helpers/prng.js';
import assert from 'node:assert/strict';
import { DataSectionEncoder, encodeDataSection } from '../../../src/wire/smtp/index.js';

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

  test('streamed (DataSectionEncoder): the same bytes as the whole message however the chunks are cut', () => {
    const rnd = prng(0x51ee7);
    const alphabet = [0x0d, 0x0a, 0x2e, 0x2e, 0x41, 0x20, 0xe4];
    const streamed = (m: Buffer, cuts: number[]): string => {
      const e = new DataSectionEncoder();
      const out: Buffer[] = [];
      let at = 0;
      for (const c of [...cuts, m.length]) {
        out.push(...e.push(m.subarray(at, c)));
        at = c;
      }
      out.push(...e.finish());
      return Buffer.concat(out).toString('latin1');
    };
    for (const s of ['', '.', '\r', '\n', '\r\n', 'a\r', '.\r\n.', 'x\r.\r', '\r\r\n\n']) {
      const m = Buffer.from(s, 'latin1');
      for (let cut = 0; cut <= m.length; cut++) assert.equal(streamed(m, [cut]), enc(s), `${JSON.stringify(s)} cut at ${cut}`);
    }
    for (let i = 0; i < 5000; i++) {
      const m = Buffer.from(Array.from({ length: Math.floor(rnd() * 40) }, () => alphabet[Math.floor(rnd() * alphabet.length)]!));
      const cuts = Array.from({ length: Math.floor(rnd() * 6) }, () => Math.floor(rnd() * (m.length + 1))).sort((a, b) => a - b);
      assert.equal(streamed(m, cuts), Buffer.concat(encodeDataSection(m)).toString('latin1'), `case ${i}: ${JSON.stringify(m.toString('latin1'))} cut at ${cuts}`);
    }
  });

  test('streamed: a clean chunk goes out uncopied', () => {
    const m = Buffer.from('abc\r\n'.repeat(100));
    const e = new DataSectionEncoder();
    const parts = e.push(m);
    assert.equal(parts.length, 1);
    assert.equal(parts[0]!.buffer, m.buffer);
    assert.deepEqual(e.finish().map(String), ['.\r\n']);
  });
});
