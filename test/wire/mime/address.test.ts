import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mime } from '../../../src/wire/index.js';

// wire/mime/address.ts: the addr-specs of an address header, read by nodemailer's addressparser.

test('a list gives every address, bare and angle-bracketed, in order', () => {
  assert.deepEqual(mime.addressesIn('a@x.example, B <b@y.example>'), ['a@x.example', 'b@y.example']);
  assert.deepEqual(mime.addressesIn('"Doe, John" <J.Doe@X.example>, c@z.example (Praxis C)'), ['j.doe@x.example', 'c@z.example']);
  assert.deepEqual(mime.addressesIn('=?utf-8?Q?M=C3=BCller?= <m@x.example>,\r\n b@y.example'), ['m@x.example', 'b@y.example'], 'folded, encoded words');
});

test('groups give their members (the group name is dropped), empty groups nothing', () => {
  assert.deepEqual(mime.addressesIn('Praxis: a@x.example, B <b@y.example>;'), ['a@x.example', 'b@y.example']);
  assert.deepEqual(mime.addressesIn('c@z.example, Team: a@x.example;, d@w.example'), ['c@z.example', 'a@x.example', 'd@w.example']);
  assert.deepEqual(mime.addressesIn('undisclosed-recipients:;'), []);
});

test('a quoted local part is kept as written (lower-cased), also one holding an @ or a comma', () => {
  assert.deepEqual(mime.addressesIn('"quoted local"@x.example'), ['"quoted local"@x.example']);
  assert.deepEqual(mime.addressesIn('Q <"Quoted, Local"@X.example>'), ['"quoted, local"@x.example']);
  assert.deepEqual(mime.addressesIn('"a@b"@x.example'), ['"a@b"@x.example']);
});

test('malformed input gives no address rather than a piece of one, and never throws', () => {
  for (const bad of ['', ' ', 'irgendwas', '<>', 'a@', '@b', 'Name <>', ',,,', ';', ':', '"unterminated', '(comment only)', '<<<@>>>']) {
    assert.deepEqual(mime.addressesIn(bad), [], JSON.stringify(bad));
  }
  // What can be read next to broken parts still is.
  assert.deepEqual(mime.addressesIn('irgendwas, a@x.example, <>'), ['a@x.example']);
  assert.deepEqual(mime.addressesIn('x <a@x.example'), ['a@x.example'], 'an unclosed angle bracket');
  for (let i = 0; i < 256; i++) mime.addressesIn(`${String.fromCharCode(i)}"(<a@b>,;:\\`.repeat(3));
});
