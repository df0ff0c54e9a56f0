import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { pop3 } from '../../../src/wire/index.js';

const { LineSplitter } = pop3;

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('LineSplitter', () => {
  const lines = (events: pop3.LineEvent[]): string[] => events.map((e) => (e.kind === 'line' ? e.line.toString('latin1') : '<overflow>'));

  test('CRLF and bare LF end lines; the terminator is not part of the line', () => {
    const s = new LineSplitter(100);
    assert.deepEqual(lines(s.push(b('USER a\r\nPASS b\nNOOP\r\n\r\n'))), ['USER a', 'PASS b', 'NOOP', '']);
    assert.equal(s.buffered, 0);
  });

  test('the result is the same at every chunk boundary', () => {
    const input = b('CAPA\r\nUSER alice\r\nPASS se cret\nSTAT\r\n');
    for (let cut = 0; cut <= input.length; cut++) {
      const s = new LineSplitter(100);
      const got = [...s.push(input.subarray(0, cut)), ...s.push(input.subarray(cut))];
      assert.deepEqual(lines(got), ['CAPA', 'USER alice', 'PASS se cret', 'STAT'], `cut at ${cut}`);
    }
  });

  test('an over-long line is reported once, dropped to its end, and the next line is fine', () => {
    const s = new LineSplitter(10); // 8 octets + CRLF
    assert.deepEqual(lines(s.push(b('12345678\r\n'))), ['12345678']);
    assert.deepEqual(lines(s.push(b('123456789\r\nNOOP\r\n'))), ['<overflow>', 'NOOP']);
    // Streaming without a line end: reported as soon as it is certain, and nothing is kept.
    const events: pop3.LineEvent[] = [];
    for (let i = 0; i < 1000; i++) {
      events.push(...s.push(b('xxxxxxxxxx')));
      assert.ok(s.buffered <= 9, `buffered ${s.buffered}`);
    }
    events.push(...s.push(b('tail\r\nQUIT\r\n')));
    assert.deepEqual(lines(events), ['<overflow>', 'QUIT']);
  });

  test('a CR at a chunk end is not counted against the limit until the LF shows', () => {
    const s = new LineSplitter(10);
    assert.deepEqual(lines(s.push(b('12345678\r'))), []);
    assert.deepEqual(lines(s.push(b('\n'))), ['12345678']);
  });

  test('reset() forgets a partial line (what STLS needs)', () => {
    const s = new LineSplitter(100);
    s.push(b('USER inj'));
    s.reset();
    assert.deepEqual(lines(s.push(b('ected\r\nCAPA\r\n'))), ['ected', 'CAPA']);
  });
});
