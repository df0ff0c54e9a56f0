import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verdictFromJson } from '../../src/mailin/index.js';

test('webhook answers map to verdicts; malformed ones are refused', () => {
  assert.deepEqual(verdictFromJson(undefined), { action: 'accept' });
  assert.deepEqual(verdictFromJson({ action: 'drop' }), { action: 'drop' });
  assert.deepEqual(verdictFromJson({ action: 'file', folder: 'x' }), { action: 'accept', folder: 'x' });
  assert.deepEqual(verdictFromJson({ action: 'reject', text: 'no', code: 250 }), { action: 'reject', code: 550, enhanced: '5.7.1', text: 'no' });
  assert.deepEqual(verdictFromJson({ action: 'reject', text: 'later', code: 451, enhanced: '5.1.1' }), { action: 'reject', code: 451, enhanced: '4.7.1', text: 'later' });
  assert.throws(() => verdictFromJson({ action: 'explode' }), /unknown action/);
  assert.throws(() => verdictFromJson({ action: 'file' }), /needs a folder/);
  assert.throws(() => verdictFromJson([1]), /JSON object/);
  assert.throws(() => verdictFromJson({ folder: 'a\nb' }), /printable/);
});
