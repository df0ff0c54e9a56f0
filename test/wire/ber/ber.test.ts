import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerError, BerFrameSplitter, CARD_BER, CMS_BER, LDAP_BER, TAG, derNode, derUint, derUtf8, readBer, writeDer, expectSequence } from '../../../src/wire/ber/index.js';

const seq = (n: number): Buffer => writeDer(derNode(TAG.sequence, [derUtf8(TAG.octetString, 'x'.repeat(n))]));

test('frame splitter: messages split at every byte boundary come out whole and in order', () => {
  const msgs = [seq(0), seq(5), seq(200), seq(70_000), seq(1)];
  const stream = Buffer.concat(msgs);
  for (const step of [1, 2, 3, 7, 128, 4096, stream.length]) {
    const s = new BerFrameSplitter(1 << 20, 0x30);
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i += step) {
      s.push(stream.subarray(i, i + step));
      for (let f = s.next(); f; f = s.next()) out.push(Buffer.from(f));
    }
    assert.deepEqual(out, msgs, `step ${step}`);
    assert.equal(s.pending, 0);
  }
});

test('frame splitter: refuses an oversized frame from its header, before the body arrives', () => {
  const s = new BerFrameSplitter(1024, 0x30);
  s.push(Buffer.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff]));
  assert.throws(() => s.next(), (e: unknown) => e instanceof BerError && e.code === 'too-large');
});

test('frame splitter: indefinite length, 5-octet lengths, a wrong first tag and high tags are typed errors', () => {
  const cases: Array<[number[], string]> = [
    [[0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00], 'malformed'],
    [[0x30, 0x85, 0, 0, 0, 0, 1], 'too-large'],
    [[0x04, 0x01, 0x00], 'malformed'],
    [[0x3f, 0x01, 0x00], 'malformed'],
  ];
  for (const [bytes, code] of cases) {
    const s = new BerFrameSplitter(1024, 0x30);
    s.push(Buffer.from(bytes));
    assert.throws(() => s.next(), (e: unknown) => e instanceof BerError && e.code === code, JSON.stringify(bytes));
  }
});

test('frame splitter: a truncated frame waits (null), it is not an error', () => {
  const s = new BerFrameSplitter(1024, 0x30);
  const m = seq(50);
  s.push(m.subarray(0, 30));
  assert.equal(s.next(), null);
  s.push(m.subarray(30));
  assert.deepEqual(s.next(), m);
});

test('reader: LDAP rules refuse indefinite lengths that CMS rules accept', () => {
  const indefinite = Buffer.from([0x30, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00]);
  assert.equal(expectSequence(readBer(indefinite, 't', CMS_BER), 't').length, 1);
  assert.throws(() => readBer(indefinite, 't', LDAP_BER), (e: unknown) => e instanceof BerError && /indefinite/.test(e.message));
});

test('reader: truncation, trailing bytes and reserved length forms are typed errors', () => {
  const good = seq(10);
  for (let n = 0; n < good.length; n++) assert.throws(() => readBer(good.subarray(0, n), 't', LDAP_BER), BerError);
  assert.throws(() => readBer(Buffer.concat([good, Buffer.from([0])]), 't', LDAP_BER), /trailing/);
  assert.throws(() => readBer(Buffer.from([0x04, 0xff, 0, 0]), 't', LDAP_BER), BerError);
});

test('writer: integers take the minimal two-complement form', () => {
  const cases: Array<[number, number[]]> = [
    [0, [0]],
    [127, [0x7f]],
    [128, [0x00, 0x80]],
    [32767, [0x7f, 0xff]],
    [32768, [0x00, 0x80, 0x00]],
    [0x7fffffff, [0x7f, 0xff, 0xff, 0xff]],
  ];
  for (const [n, body] of cases) assert.deepEqual([...derUint(2, n)], [2, body.length, ...body], String(n));
  assert.throws(() => derUint(2, -1), RangeError);
});

test('CARD_BER reads two-octet tags as a card writes them (7F 49); CMS and LDAP still refuse high tags; bad ones are typed errors', () => {
  const pk = Buffer.from('7f4903860104', 'hex'); // [APPLICATION 73] { [6] 04 }
  const t = readBer(pk, 'pk', CARD_BER);
  assert.equal(t.tagClass, 1);
  assert.equal(t.tagNumber, 73);
  assert.equal(t.constructed, true);
  for (const rules of [CMS_BER, LDAP_BER]) assert.throws(() => readBer(pk, 'pk', rules), (e: unknown) => e instanceof BerError);
  // Non-minimal (80 first, or a number below 31), three subsequent octets, truncated tag or length.
  for (const bad of ['7f804900', '7f1e00', '7fff810100', '7f', '7f49', '7fc9']) {
    assert.throws(() => readBer(Buffer.from(bad, 'hex'), 'bad', CARD_BER), (e: unknown) => e instanceof BerError, bad);
  }
  // Indefinite lengths stay refused for card objects.
  assert.throws(() => readBer(Buffer.from('7f49800000', 'hex'), 'indef', CARD_BER), (e: unknown) => e instanceof BerError);
});
