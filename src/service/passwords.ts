import { randomBytes, type ScryptOptions } from 'node:crypto';
import { scryptOnThread } from './password-threads.js';

/**
 * Password hashes in a self-describing string: `$scrypt$ln=15,r=8,p=1$<salt b64>$<hash b64>`
 * (the parameter names follow the PHC string format). scrypt runs on the password threads
 * (password-threads.ts), so a login never blocks the event loop nor the store's disk syncs.
 */
const DEFAULT = { ln: 15, r: 8, p: 1 };
const KEYLEN = 32;

function options(ln: number, r: number, p: number): ScryptOptions {
  const N = 2 ** ln;
  return { N, r, p, maxmem: 256 * N * r + 1024 * 1024 };
}

export async function hashPassword(password: string, params = DEFAULT): Promise<string> {
  const salt = randomBytes(16);
  const key = Buffer.from(await scryptOnThread<Uint8Array>({ kind: 'hash', password, salt, keylen: KEYLEN, options: options(params.ln, params.r, params.p) }));
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

const FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

/** Compares in constant time; a malformed stored hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = FORMAT.exec(stored);
  if (!m) return false;
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (ln < 10 || ln > 22 || r < 1 || p < 1) return false;
  const expected = Buffer.from(m[5]!, 'base64');
  if (expected.length < 16) return false;
  return scryptOnThread<boolean>({ kind: 'verify', password, salt: Buffer.from(m[4]!, 'base64'), keylen: expected.length, options: options(ln, r, p), expected });
}

let dummy: Promise<string> | undefined;

/**
 * Spends the same time as a real verification; used for unknown users so that response
 * time does not reveal which addresses exist.
 */
export async function burnPasswordCheck(password: string): Promise<void> {
  dummy ??= hashPassword('dummy-password-for-timing');
  await verifyPassword(password, await dummy);
}

/** A readable random password for generated demo accounts. */
export function generatePassword(bytes = 12): string {
  return randomBytes(bytes).toString('base64url');
}
