import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyHeaderChanges, checkHeaderChanges, HeaderEditError } from '../../src/mailin/index.js';

test('header changes replace, add and remove fields and leave the body alone', () => {
  const raw = Buffer.from('Return-Path: <a@b>\r\nSubject: old\r\nX-Tag: 1\r\n\tcontinued\r\nTo: x@y\r\n\r\nbody\r\nSubject: not a header\r\n');
  const out = applyHeaderChanges(raw, checkHeaderChanges({ subject: 'new', 'x-tag': null, 'X-Added': 'yes' })).toString();
  assert.equal(out, 'Return-Path: <a@b>\r\nTo: x@y\r\nsubject: new\r\nX-Added: yes\r\n\r\nbody\r\nSubject: not a header\r\n');
  // No body: the new fields end the header block (no empty line before them), folding kept.
  assert.equal(applyHeaderChanges(Buffer.from('Subject: a\r\n b\r\nX-Tag: 1'), { 'x-tag': null, 'X-New': 'v' }).toString(), 'Subject: a\r\n b\r\nX-New: v\r\n');
  assert.throws(() => applyHeaderChanges(Buffer.from('Subject: a\r\nno field here\r\n\r\nbody'), { subject: 'b' }), HeaderEditError);
  assert.throws(() => checkHeaderChanges({ Received: 'forged' }), /may not be changed/);
  assert.throws(() => checkHeaderChanges({ 'X-A': 'a\r\nBcc: victim@x' }), /line break/);
  assert.throws(() => checkHeaderChanges({ 'Bad Name': 'x' }), /not a header field name/);
  assert.throws(() => checkHeaderChanges(['x']), /must be an object/);
});
