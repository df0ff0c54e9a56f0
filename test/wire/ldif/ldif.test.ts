import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { LdifReader, readLdif, formatLdifRecord, formatLdifLine, isSafeLdifValue, type LdifRecord } from '../../../src/wire/ldif/index.js';

function readAll(text: string | Buffer, chunk = 7): LdifRecord[] {
  const r = new LdifReader();
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
  const out: LdifRecord[] = [];
  for (let k = 0; k < buf.length; k += chunk) out.push(...r.push(buf.subarray(k, k + chunk)));
  out.push(...r.end());
  return out;
}

const SAMPLE = `version: 1
# a comment
#  folded comment

dn: uid=a,dc=data,dc=vzd
objectClass: top
displayName: Praxis Dr. M
 üller
cn:: UHJheGlzIERyLiBNw7xsbGVy
telematikID: 1-123

# between records
dn: uid=b,dc=data,dc=vzd
changetype: add
telematikID: 1-456
displayName: B
`;

test('LDIF: version line, comments, folding, base64, changetype add, line numbers; any chunking', () => {
  for (const chunk of [1, 3, 7, 64, 10_000]) {
    const recs = readAll(SAMPLE, chunk);
    assert.equal(recs.length, 2, `chunk ${chunk}`);
    const [a, b] = recs as Array<Extract<LdifRecord, { kind: 'entry' }>>;
    assert.equal(a!.kind, 'entry');
    assert.equal(a!.line, 5);
    assert.equal(a!.dn, 'uid=a,dc=data,dc=vzd');
    assert.deepEqual(a!.attributes.map((x) => [x.name, x.value.toString('utf8')]), [
      ['objectClass', 'top'],
      ['displayName', 'Praxis Dr. Müller'],
      ['cn', 'Praxis Dr. Müller'],
      ['telematikID', '1-123'],
    ]);
    assert.equal(b!.line, 13);
    assert.deepEqual(b!.attributes.map((x) => x.name), ['telematikID', 'displayName']);
  }
});

test('LDIF: CRLF line ends and no final newline', () => {
  const recs = readAll('dn: uid=x,dc=data,dc=vzd\r\ndisplayName: X\r\n telematikID-continued\r\n\r\ndn: uid=y,dc=data,dc=vzd\r\nmail: y@z');
  assert.equal(recs.length, 2);
  assert.equal((recs[0] as { attributes: Array<{ value: Buffer }> }).attributes[0]!.value.toString(), 'XtelematikID-continued');
  assert.equal((recs[1] as { line: number }).line, 5);
});

test('LDIF: refused records carry their line and a reason; reading continues', () => {
  const text = `dn: uid=a,dc=x
photo:< file:///etc/passwd

dn: uid=b,dc=x
changetype: modify
replace: mail

dn: uid=c,dc=x
changetype: delete

dn: uid=d,dc=x
control: 1.2.3 true

mail: no-dn@x

dn: uid=e,dc=x
bad line without colon

dn: uid=f,dc=x
mail:: !!!notbase64

dn: uid=g,dc=x

dn: uid=ok,dc=x
mail: ok@x
`;
  const recs = readAll(text);
  const summary = recs.map((r) => (r.kind === 'error' ? [r.line, r.reason.split(' ')[0]] : [r.line, r.dn]));
  assert.deepEqual(summary, [
    [2, 'URL'],
    [5, 'changetype'],
    [9, 'changetype'],
    [12, 'LDIF'],
    [14, 'a'],
    [17, 'expected'],
    [20, 'invalid'],
    [22, 'the'],
    [24, 'uid=ok,dc=x'],
  ]);
});

test('LDIF: an over-long line is rejected with its record line, memory stays bounded', () => {
  const r = new LdifReader({ maxLineBytes: 1000 });
  const out: LdifRecord[] = [];
  out.push(...r.push(Buffer.from('dn: uid=a,dc=x\ndescription: ')));
  for (let k = 0; k < 100; k++) out.push(...r.push(Buffer.alloc(500, 0x61)));
  out.push(...r.push(Buffer.from('\n\ndn: uid=b,dc=x\nmail: b@x\n')));
  out.push(...r.end());
  assert.equal(out.length, 2);
  assert.equal(out[0]!.kind, 'error');
  assert.equal(out[0]!.line, 1);
  assert.equal(out[1]!.kind, 'entry');
  assert.equal(out[1]!.line, 4);
});

test('LDIF writer: SAFE-STRING or base64, folding at 76, round trip through the reader', () => {
  assert.equal(isSafeLdifValue(Buffer.from('plain text')), true);
  for (const v of [' lead', ':colon', '<lt', 'trail ', 'ü', 'a\nb', 'a\0b']) assert.equal(isSafeLdifValue(Buffer.from(v)), false, v);
  const long = 'x'.repeat(200);
  const line = formatLdifLine('description', long);
  assert.ok(line.split('\n').every((l) => l.length <= 76));
  const cert = randomBytes(1200);
  const rec = formatLdifRecord('uid=ä,dc=data,dc=vzd', [
    { name: 'description', value: long },
    { name: 'displayName', value: 'Müller' },
    { name: 'userCertificate;binary', value: cert },
    { name: 'title', value: ' spaced ' },
  ]);
  const [back] = readAll(rec, 13) as Array<Extract<LdifRecord, { kind: 'entry' }>>;
  assert.equal(back!.dn, 'uid=ä,dc=data,dc=vzd');
  assert.equal(back!.attributes[0]!.value.toString(), long);
  assert.equal(back!.attributes[1]!.value.toString(), 'Müller');
  assert.ok(back!.attributes[2]!.value.equals(cert));
  assert.equal(back!.attributes[3]!.value.toString(), ' spaced ');
});

test('LDIF: random bytes never throw, and readLdif streams', async () => {
  let seed = 3;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pieces = ['dn: ', 'uid=a,dc=x', '\n', '\n ', ':: ', ': ', 'mail', '#', '\r\n', 'version: 1', '=', 'changetype: add', '\u00fc', 'QUJD'];
  for (let k = 0; k < 3000; k++) {
    let s = '';
    for (let j = rnd(30); j > 0; j--) s += pieces[rnd(pieces.length)];
    for (const rec of readAll(s, 1 + rnd(9))) assert.ok(rec.kind === 'entry' || rec.kind === 'error');
    readAll(randomBytes(rnd(300)), 1 + rnd(50));
  }
  async function* src(): AsyncGenerator<string> {
    yield 'dn: uid=a,dc=x\nmail: a';
    yield '@x\n\ndn: uid=b,dc=x\nmail: b@x';
  }
  const got: string[] = [];
  for await (const r of readLdif(src())) if (r.kind === 'entry') got.push(r.attributes[0]!.value.toString());
  assert.deepEqual(got, ['a@x', 'b@x']);
});
