import { test } from 'node:test';
import assert from 'node:assert/strict';
import bcrypt from 'bcryptjs';
import argon2 from 'argon2';
import { verifyHash, hashKind, shaCrypt } from '../../../src/integration/index.js';
import { hashPassword } from '../../../src/service/index.js';

const PASSWORD = 'Passw0rd';

test('hashes of every recognised kind verify, malformed ones and clear text never match', async () => {
  const hashes = {
    scrypt: await hashPassword(PASSWORD, { ln: 10, r: 8, p: 1 }),
    bcrypt2b: await bcrypt.hash(PASSWORD, 4),
    bcrypt2y: (await bcrypt.hash(PASSWORD, 4)).replace(/^\$2b\$/, '$2y$'),
    argon2id: await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 4096, timeCost: 2 }),
    argon2i: await argon2.hash(PASSWORD, { type: argon2.argon2i, memoryCost: 4096, timeCost: 2 }),
    sha512: shaCrypt(PASSWORD, '$6$pepper'),
    sha256: shaCrypt(PASSWORD, '$5$rounds=2000$pepper'),
    openssl: '$6$pepper$opz4X649B0eVH8X3zy04.zQ1GK/0V/5q8WrnSxYQXiWQ9FzmgOjuae.FUtpMBFEOrygy1teUHE8NORksER03m0',
  };
  for (const [kind, h] of Object.entries(hashes)) {
    assert.equal(await verifyHash(PASSWORD, h), true, kind);
    assert.equal(await verifyHash('wrong', h), false, kind);
  }
  assert.deepEqual([hashes.scrypt, hashes.bcrypt2b, hashes.argon2id, hashes.sha512].map(hashKind), ['scrypt', 'bcrypt', 'argon2', 'sha-crypt']);
  for (const bad of [PASSWORD, '', '$2b$04$short', '$argon2id$v=19$garbage', '$6$x$tooshort', '$scrypt$ln=99,r=8,p=1$AA==$AA==', '{SSHA}abc', '$1$md5$x']) {
    assert.equal(await verifyHash(PASSWORD, bad), false, bad);
  }
});
