import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sign, verify } from '../../src/mailin/index.js';

const SECRET = 'a-long-shared-secret-0123456789';

test('signatures: v1 HMAC over timestamp.body, checked in constant time with a replay window', () => {
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = sign(SECRET, ts, '{"a":1}');
  assert.match(sig, /^v1=[0-9a-f]{64}$/);
  assert.ok(verify(SECRET, ts, '{"a":1}', sig));
  assert.ok(!verify(SECRET, ts, '{"a":2}', sig));
  assert.ok(!verify('another-secret-0123', ts, '{"a":1}', sig));
  assert.ok(!verify(SECRET, String(Number(ts) - 3600), '{"a":1}', sign(SECRET, String(Number(ts) - 3600), '{"a":1}')), 'old timestamps are refused');
});
