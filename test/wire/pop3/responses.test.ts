import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { pop3 } from '../../../src/wire/index.js';
import { thrown } from '../../helpers/assert.js';

const { Pop3ResponseReader, Pop3ResponseError, multiline, okLine, parseStat, parseScanListing, parseUidListing } = pop3;

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const problemOf = (fn: () => unknown): string => thrown(Pop3ResponseError, fn).reason;

describe('responses', () => {
  test('status lines with response codes, and no way to inject a second line', () => {
    assert.equal(pop3.okLine(), '+OK\r\n');
    assert.equal(pop3.okLine('2 320'), '+OK 2 320\r\n');
    assert.equal(pop3.errLine('bad', 'SYS/TEMP'), '-ERR [SYS/TEMP] bad\r\n');
    assert.equal(pop3.errLine('x\r\n+OK forged', 'AUTH'), '-ERR [AUTH] x  +OK forged\r\n');
    assert.equal(pop3.continuationLine(), '+ \r\n');
    assert.equal(pop3.multiline('+OK caps\r\n', ['TOP', '.dot']), '+OK caps\r\nTOP\r\n..dot\r\n.\r\n');
  });
});

describe('listings', () => {
  test('STAT, LIST and UIDL as the server writes them', () => {
    assert.deepEqual(parseStat(okLine('2 320')), { count: 2, size: 320 });
    const list = b(multiline(okLine('2 messages'), ['1 120', '2 200']));
    const reader = new Pop3ResponseReader({ maxResponseSize: 1 << 20 });
    reader.push(list);
    const listBody = reader.next(true)!;
    assert.ok(listBody.ok);
    assert.deepEqual(parseScanListing(listBody.body!), [
      { n: 1, size: 120 },
      { n: 2, size: 200 },
    ]);
    assert.deepEqual(parseUidListing(b('1 abc\r\n2 .x~\r\n')), [
      { n: 1, uid: 'abc' },
      { n: 2, uid: '.x~' },
    ]);
    assert.deepEqual(parseScanListing(b('')), []);
  });

  test('anything else is refused', () => {
    assert.equal(problemOf(() => parseStat('+OK two 320')), 'bad-listing');
    assert.equal(problemOf(() => parseStat('+OK')), 'bad-listing');
    assert.equal(problemOf(() => parseScanListing(b('1 12x\r\n'))), 'bad-listing');
    assert.equal(problemOf(() => parseScanListing(b('one 12\r\n'))), 'bad-listing');
    assert.equal(problemOf(() => parseScanListing(b('1\r\n'))), 'bad-listing');
    assert.equal(problemOf(() => parseUidListing(b(`1 ${'u'.repeat(71)}\r\n`))), 'bad-listing');
    assert.equal(problemOf(() => parseUidListing(b('1 a\x01b\r\n'))), 'bad-listing');
    assert.equal(problemOf(() => parseUidListing(b('1 \r\n'))), 'bad-listing');
  });
});
