import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomHex } from '../../src/core/index.js';

test('randomHex: the asked length in hex, no repeats across pool refills, bad sizes refused', () => {
  const seen = new Set<string>();
  // 8 bytes each: 512 names per 4 KB block, so this crosses about twenty refills (64 bits: a repeat
  // by chance is out of the question, so one would mean bytes handed out twice).
  for (let i = 0; i < 10_000; i++) {
    const h = randomHex(8);
    assert.match(h, /^[0-9a-f]{16}$/);
    assert.ok(!seen.has(h), `repeated: ${h}`);
    seen.add(h);
  }
  assert.match(randomHex(256), /^[0-9a-f]{512}$/);
  for (const bad of [0, -1, 1.5, 257]) assert.throws(() => randomHex(bad), RangeError);
});
