import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { pop3 } from '../../../src/wire/index.js';

const { extractTop } = pop3;

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('extractTop', () => {
  const msg = b('Subject: x\r\nFrom: y\r\n\r\none\r\ntwo\r\nthree\r\n');
  test('header, blank line and n body lines', () => {
    assert.equal(extractTop(msg, 0).toString(), 'Subject: x\r\nFrom: y\r\n\r\n');
    assert.equal(extractTop(msg, 2).toString(), 'Subject: x\r\nFrom: y\r\n\r\none\r\ntwo\r\n');
    assert.equal(extractTop(msg, 99).toString(), msg.toString());
  });
  test('no blank line: all header; bare LF understood; last line without line end', () => {
    assert.equal(extractTop(b('Subject: only\r\n'), 0).toString(), 'Subject: only\r\n');
    assert.equal(extractTop(b('A: 1\n\nx\ny\n'), 1).toString(), 'A: 1\n\nx\n');
    assert.equal(extractTop(b('A: 1\r\n\r\nno newline'), 5).toString(), 'A: 1\r\n\r\nno newline');
    assert.equal(extractTop(b('\r\nbody\r\n'), 0).toString(), '\r\n');
  });
});
