import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDn, formatDn, normaliseDnString, escapeDnValue, DnSyntaxError } from '../../../src/wire/ldap/index.js';

test('DN: simple, spaces around separators, case-insensitive types, OID. prefix', () => {
  assert.deepEqual(parseDn('uid=abc,dc=data,dc=vzd'), [[{ type: 'uid', value: 'abc' }], [{ type: 'dc', value: 'data' }], [{ type: 'dc', value: 'vzd' }]]);
  assert.equal(normaliseDnString(' UID = Abc , DC=Data ; dc=VZD '), 'uid=abc,dc=data,dc=vzd');
  assert.equal(normaliseDnString('OID.0.9.2342.19200300.100.1.1=x,dc=a'), '0.9.2342.19200300.100.1.1=x,dc=a');
  assert.deepEqual(parseDn(''), []);
  assert.deepEqual(parseDn('   '), []);
});

test('DN: escapes, hex pairs (multi-byte UTF-8), trailing escaped space, #hex values, quoted values', () => {
  assert.equal(parseDn('cn=a\\,b\\+c\\=d,dc=x')[0]![0]!.value, 'a,b+c=d');
  assert.equal(parseDn('cn=M\\C3\\BCller,dc=x')[0]![0]!.value, 'Müller');
  assert.equal(parseDn('cn=Müller,dc=x')[0]![0]!.value, 'Müller');
  assert.equal(parseDn('cn=x\\ ,dc=y')[0]![0]!.value, 'x ');
  assert.equal(parseDn('cn=x   ,dc=y')[0]![0]!.value, 'x');
  assert.equal(parseDn('cn=\\#1,dc=y')[0]![0]!.value, '#1');
  assert.equal(parseDn('cn=#04024869,dc=y')[0]![0]!.value, '#04024869');
  assert.equal(parseDn('cn="a,b",dc=y')[0]![0]!.value, 'a,b');
  assert.equal(parseDn('cn=😀x,dc=y')[0]![0]!.value, '😀x');
});

test('DN: multi-valued RDNs are sorted when normalised', () => {
  assert.deepEqual(parseDn('cn=a+sn=b,dc=x')[0], [{ type: 'cn', value: 'a' }, { type: 'sn', value: 'b' }]);
  assert.equal(normaliseDnString('SN=B+cn=A,dc=x'), normaliseDnString('cn=a+sn=b,dc=x'));
});

test('DN: whitespace inside values is collapsed for comparison only', () => {
  assert.equal(normaliseDnString('cn=Dr.   Anna  Muster,dc=x'), 'cn=dr. anna muster,dc=x');
  assert.equal(parseDn('cn=Dr.   Anna,dc=x')[0]![0]!.value, 'Dr.   Anna');
});

test('DN: format escapes what must be escaped and round-trips', () => {
  assert.equal(escapeDnValue(' a,b+c"d\\e<f>g;h=i '), '\\ a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h\\=i\\ ');
  assert.equal(escapeDnValue('#x'), '\\#x');
  assert.equal(escapeDnValue('a\nb'), 'a\\0ab');
  for (const s of ['uid=a\\,b,dc=data,dc=vzd', 'cn=\\ x\\ ,dc=y', 'cn=M\\C3\\BCller+sn=x,dc=y', 'uid=a\\0ab,dc=c']) {
    const once = parseDn(s);
    assert.deepEqual(parseDn(formatDn(once)), once, s);
  }
});

test('DN: malformed input is a DnSyntaxError, never a crash', () => {
  for (const bad of ['uid', 'uid=a,', '=a', 'uid=a,,dc=x', 'cn=a\\', 'cn=a\\zz', 'cn=a"b', '1uid=a', 'cn=#abc', 'cn="abc', 'cn=\\C3', 'cn=a,dc']) {
    assert.throws(() => parseDn(bad), DnSyntaxError, bad);
  }
});

test('DN: random bytes never throw anything but DnSyntaxError', () => {
  const alphabet = 'uid=,+;\\"#<> aZ09\\C3\\BC\u00fc=';
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let k = 0; k < 20000; k++) {
    let s = '';
    for (let j = rnd(24); j > 0; j--) s += alphabet[rnd(alphabet.length)];
    try {
      const dn = parseDn(s);
      assert.deepEqual(parseDn(formatDn(dn)).map((r) => r.length), dn.map((r) => r.length), s);
    } catch (err) {
      assert.ok(err instanceof DnSyntaxError, `${s}: ${String(err)}`);
    }
  }
});
