import bcrypt from 'bcryptjs';
import argon2 from 'argon2';
import { verifyPassword } from '../../service/index.js';
import { verifyShaCryptOffLoop } from './sha-crypt-threads.js';

/** The password-hash formats a user source may hold, recognised by their prefix. */
export type HashKind = 'scrypt' | 'bcrypt' | 'argon2' | 'sha-crypt';

export function hashKind(stored: string): HashKind | undefined {
  if (stored.startsWith('$scrypt$')) return 'scrypt';
  if (/^\$2[aby]\$\d\d\$/.test(stored)) return 'bcrypt';
  if (/^\$argon2(id|i|d)\$/.test(stored)) return 'argon2';
  if (/^\$[56]\$/.test(stored)) return 'sha-crypt';
  return undefined;
}

/**
 * Checks a password against a stored hash of any recognised kind. Unknown formats (plain
 * text included) never match: a source holding clear-text passwords is a configuration
 * error, not something to compare against. A malformed hash never matches either. A SHA-crypt
 * hash that asks for more rounds than this server computes throws UnverifiableHashError: the
 * login is refused as one the source cannot answer (logged by the protocol edge), not as a
 * wrong password.
 *
 * - `$scrypt$…`: Postamt's own (service/passwords.ts), on the thread pool;
 * - `$2a$`/`$2b$`/`$2y$`: bcrypt (bcryptjs: pure JS, yields between rounds);
 * - `$argon2id$`/`$argon2i$`/`$argon2d$`: argon2 (the `argon2` package, on the thread pool);
 * - `$5$`/`$6$`: SHA-crypt (ours, on worker threads; rounds capped at SHA_CRYPT_MAX_ROUNDS).
 */
export async function verifyHash(password: string, stored: string): Promise<boolean> {
  const kind = hashKind(stored);
  // Its failures (a hash above the cap, a thread that died) are the source's, not a wrong password.
  if (kind === 'sha-crypt') return verifyShaCryptOffLoop(password, stored);
  try {
    switch (kind) {
      case 'scrypt':
        return await verifyPassword(password, stored);
      case 'bcrypt':
        // bcrypt only looks at the first 72 bytes; a longer password would match its own prefix.
        if (Buffer.byteLength(password) > 72) return false;
        return await bcrypt.compare(password, stored);
      case 'argon2':
        return await argon2.verify(stored, password);
      default:
        return false;
    }
  } catch {
    return false;
  }
}
