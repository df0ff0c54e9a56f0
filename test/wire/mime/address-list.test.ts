import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mime } from '../../../src/wire/index.js';
import { prng } from '../../helpers/prng.js';

// Address header fields as lists of items kept as written (src/wire/mime/address-list.ts), and
// header edits on bytes (src/wire/mime/header-edit.ts): what the client module's recipient rules stand on.

const keepOnly = (...addresses: string[]) => (a: string) => addresses.includes(a);

test('items keep display names, encoded words, quoting and comments as written; addresses are read lower-cased', () => {
  const value = '=?utf-8?Q?M=C3=BCller?= <A@Praxis.test>, "Doe, John" <j@x.test> (Kommentar, mit Komma),\r\n  plain@x.test, Müller <m@x.test>';
  const items = mime.parseAddressList(value);
  assert.deepEqual(
    items.map((i) => (i.kind === 'mailbox' ? [i.raw, i.address] : i.name)),
    [
      ['=?utf-8?Q?M=C3=BCller?= <A@Praxis.test>', 'a@praxis.test'],
      ['"Doe, John" <j@x.test> (Kommentar, mit Komma)', 'j@x.test'],
      ['plain@x.test', 'plain@x.test'],
      ['Müller <m@x.test>', 'm@x.test'],
    ],
  );
  assert.deepEqual(mime.addressesOf(items), ['a@praxis.test', 'j@x.test', 'plain@x.test', 'm@x.test']);
});

test('groups, empty groups, domain literals and stray words', () => {
  const items = mime.parseAddressList('Team: a@x.test, "B, b" <b@x.test>;, undisclosed-recipients:;, c@[IPv6:2001:db8::1], irgendwas');
  assert.equal(items.length, 4);
  assert.deepEqual(items[0], {
    kind: 'group',
    name: 'Team',
    members: [
      { kind: 'mailbox', raw: 'a@x.test', address: 'a@x.test' },
      { kind: 'mailbox', raw: '"B, b" <b@x.test>', address: 'b@x.test' },
    ],
  });
  assert.deepEqual(items[1], { kind: 'group', name: 'undisclosed-recipients', members: [] });
  assert.equal(items[2]!.kind, 'mailbox');
  assert.equal((items[3] as mime.MailboxItem).address, '', 'a word without an address');
});

test('filter and format: only the named addresses stay, the others keep their bytes; folded after every comma', () => {
  const items = mime.parseAddressList('=?utf-8?Q?M=C3=BCller?= <a@x.test>, b@x.test, Team: c@x.test, d@x.test;, irgendwas');
  const f = mime.filterAddressList(items, keepOnly('a@x.test', 'd@x.test'));
  assert.deepEqual(f.removed, ['b@x.test', 'c@x.test', 'irgendwas']);
  assert.equal(f.hasAddress, true);
  assert.equal(mime.formatAddressField('To', f.items), 'To: =?utf-8?Q?M=C3=BCller?= <a@x.test>,\r\n Team:d@x.test;\r\n');
  const none = mime.filterAddressList(items, keepOnly());
  assert.equal(none.hasAddress, false);
  const emptyGroup = mime.filterAddressList(mime.parseAddressList('undisclosed-recipients:;'), keepOnly());
  assert.deepEqual([emptyGroup.hasAddress, emptyGroup.removed], [false, []]);
});

test('editHeader: drop, replace, prepend and append in one copy; untouched fields and the body keep their bytes', () => {
  const msg = Buffer.from('From: a@x\r\nTo: b@x,\r\n c@x\r\nBcc: d@x\r\nSubject: \xe4\r\n\r\nbody\r\n', 'latin1');
  const block = mime.readHeaderBlock(msg);
  const to = mime.findField(block.fields, 'To')!;
  const bcc = mime.findField(block.fields, 'Bcc')!;
  const out = mime.editHeader(msg, block, { drop: new Set([bcc]), replace: new Map([[to, 'To: b@x\r\n']]), prepend: ['Message-ID: <1@x>\r\n'], append: ['X-KIM-Dienstkennung: KIM-Mail;Default;V1.0\r\n'] });
  assert.equal(out.toString('latin1'), 'Message-ID: <1@x>\r\nFrom: a@x\r\nTo: b@x\r\nSubject: \xe4\r\nX-KIM-Dienstkennung: KIM-Mail;Default;V1.0\r\n\r\nbody\r\n');
  const same = mime.editHeader(msg, block, {});
  assert.ok(same.buffer === msg.buffer && same.byteOffset === msg.byteOffset && same.length === msg.length, 'no change, no copy');
  const bodyless = Buffer.from('From: a@x\r\nSubject: x');
  assert.equal(mime.editHeader(bodyless, mime.readHeaderBlock(bodyless), { append: ['X-A: 1\r\n'] }).toString(), 'From: a@x\r\nSubject: x\r\nX-A: 1\r\n');
});

test('canonicalLineEnds: bare LF and bare CR become CRLF, CRLF stays', () => {
  assert.equal(mime.canonicalLineEnds(Buffer.from('a\nb\rc\r\nd\n\re')).toString(), 'a\r\nb\r\nc\r\nd\r\n\r\ne');
  const crlf = Buffer.from('a\r\nb\r\n');
  const same = mime.canonicalLineEnds(crlf);
  assert.ok(same.buffer === crlf.buffer && same.byteOffset === crlf.byteOffset && same.length === crlf.length, 'CRLF input is not copied');
  assert.equal(mime.canonicalLineEnds(Buffer.from('\n')).toString(), '\r\n');
  assert.equal(mime.canonicalLineEnds(Buffer.from('x\r')).toString(), 'x\r\n');
});

test('fuzz: 3000 mutated address fields — parsing never throws, a filtered field is one header field with exactly the kept addresses, and keeping everything keeps every address', () => {
  const rnd = prng(0x15a);
  const pieces = ['"Dr. Müller, Anna" <a@x.test>', 'b@x.test', 'Team: c@x.test, d@x.test;', '(Kommentar) e@x.test', '=?utf-8?Q?M=C3=BCller?= <f@x.test>', '<g@[127.0.0.1]>', 'undisclosed-recipients:;'];
  const noise = ['"', '<', '>', ',', ';', ':', '(', ')', '\\', '@', ' ', '\t', '\r\n ', '\x00', 'ä', '=?'];
  for (let i = 0; i < 3000; i++) {
    let value = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => pieces[Math.floor(rnd() * pieces.length)]!).join(', ');
    for (let k = Math.floor(rnd() * 4); k > 0; k--) {
      const at = Math.floor(rnd() * (value.length + 1));
      value = value.slice(0, at) + noise[Math.floor(rnd() * noise.length)]! + value.slice(at + (rnd() < 0.3 ? 1 : 0));
    }
    const items = mime.parseAddressList(value);
    const all = mime.addressesOf(items);
    const kept = new Set(all.filter(() => rnd() < 0.5));
    const f = mime.filterAddressList(items, (a) => kept.has(a));
    if (!f.hasAddress) continue;
    const field = mime.formatAddressField('To', f.items);
    assert.match(field, /^To: /, `seed case ${i}`);
    assert.ok(field.endsWith('\r\n') && !/\r\n(?![ \t])[\s\S]/.test(field.slice(0, -2)), `case ${i}: one field, continuation lines folded: ${JSON.stringify(field)}`);
    const back = mime.addressesOf(mime.parseAddressList(field.slice(4, -2)));
    const staying = mime.addressesOf(f.items);
    for (const a of staying) assert.ok(kept.has(a), `case ${i}: ${a} was not to be kept`);
    assert.deepEqual(back, staying, `case ${i}: the field names exactly what stays (${JSON.stringify(value)} → ${JSON.stringify(field)})`);
    const everything = mime.filterAddressList(items, () => true);
    const plain = all.filter((a) => /^[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@(?:[a-z0-9.-]+|\[[a-z0-9.:]+\])$/.test(a));
    assert.deepEqual(mime.addressesOf(everything.items), plain, `case ${i}: keeping everything keeps every plain address`);
  }
});
