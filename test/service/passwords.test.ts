import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyPassword, hashPassword } from '../../src/service/index.js';

test('password hashes with other parameters still verify; malformed ones never match', async () => {
  const h = await hashPassword('secret pw', { ln: 12, r: 8, p: 1 });
  assert.ok(await verifyPassword('secret pw', h));
  assert.equal(await verifyPassword('secret pw', '$scrypt$garbage'), false);
  assert.equal(await verifyPassword('secret pw', ''), false);
  assert.equal(await verifyPassword('secret pw', h.replace('ln=12', 'ln=40')), false);
});
