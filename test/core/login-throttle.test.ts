import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginThrottle } from '../../src/core/index.js';

test('login throttle: free failures, doubling penalty, cap, window expiry, bounded memory', () => {
  let now = 0;
  const t = new LoginThrottle({ windowMs: 1000, freeFailures: 2, baseDelayMs: 100, maxDelayMs: 350, maxEntries: 3 }, () => now);
  assert.deepEqual([t.failure('a'), t.failure('a'), t.failure('a'), t.failure('a'), t.failure('a')], [0, 0, 100, 200, 350]);
  assert.equal(t.penalty('a'), 350);
  assert.equal(t.penalty('b'), 0, 'other addresses are not affected');
  now = 2000;
  assert.equal(t.penalty('a'), 0, 'the window expired');
  assert.equal(t.failure('a'), 0, 'counting starts afresh');
  for (let i = 0; i < 3; i++) t.failure('a');
  t.failure('b');
  t.failure('c');
  t.failure('d'); // evicts the least recently failing address, 'a'
  assert.equal(t.penalty('a'), 0);
});
