import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * SHA-crypt (`$5$` SHA-256, `$6$` SHA-512), as specified by Ulrich Drepper ("Unix crypt using
 * SHA-256 and SHA-512", the spec glibc and libxcrypt implement). Written here rather than
 * pulled in: it is ~80 lines over node:crypto, and the npm packages for it are unmaintained.
 */

const ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ROUNDS_DEFAULT = 5000;
const ROUNDS_MIN = 1000;
const ROUNDS_MAX = 999_999_999;

/**
 * The most rounds a stored hash may ask for before it is refused unchecked. glibc's and
 * libxcrypt's crypt(3) default is 5000 (what openssl passwd, mkpasswd, shadow without
 * SHA_CRYPT_*_ROUNDS and Dovecot write); passlib, and Ansible's password_hash through it,
 * default to 656,000 ($6$) and 535,000 ($5$). 1,000,000 admits all of them and bounds a check at
 * about 2 s of CPU — on a worker thread (sha-crypt-threads.ts), never on the event loop.
 */
export const SHA_CRYPT_MAX_ROUNDS = 1_000_000;

interface Variant {
  algorithm: 'sha256' | 'sha512';
  size: number;
  /** The spec's byte order for the final base64 step: groups of three, then the tail. */
  order: number[][];
  tail: number[];
}

const SHA256: Variant = {
  algorithm: 'sha256',
  size: 32,
  order: [[0, 10, 20], [21, 1, 11], [12, 22, 2], [3, 13, 23], [24, 4, 14], [15, 25, 5], [6, 16, 26], [27, 7, 17], [18, 28, 8], [9, 19, 29]],
  tail: [31, 30],
};
const SHA512: Variant = {
  algorithm: 'sha512',
  size: 64,
  order: [
    [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48], [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10],
    [53, 11, 32], [12, 33, 54], [34, 55, 13], [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41],
  ],
  tail: [63],
};

/** `len` bytes of `block` repeated. */
function repeatTo(block: Buffer, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i += block.length) block.copy(out, i, 0, Math.min(block.length, len - i));
  return out;
}

function encode(v: Variant, d: Buffer): string {
  let out = '';
  const put = (w: number, n: number) => {
    for (let i = 0; i < n; i++) {
      out += ALPHABET[w & 0x3f];
      w >>>= 6;
    }
  };
  for (const [a, b, c] of v.order as Array<[number, number, number]>) put((d[a]! << 16) | (d[b]! << 8) | d[c]!, 4);
  if (v.tail.length === 2) put((d[v.tail[0]!]! << 8) | d[v.tail[1]!]!, 3);
  else put(d[v.tail[0]!]!, 2);
  return out;
}

function digest(v: Variant, key: Buffer, salt: Buffer, rounds: number): Buffer {
  const h = () => createHash(v.algorithm);
  const b = h().update(key).update(salt).update(key).digest();
  const ha = h().update(key).update(salt).update(repeatTo(b, key.length));
  for (let n = key.length; n > 0; n >>>= 1) ha.update(n & 1 ? b : key);
  const a = ha.digest();
  const hp = h();
  for (let i = 0; i < key.length; i++) hp.update(key);
  const p = repeatTo(hp.digest(), key.length);
  const hs = h();
  for (let i = 0; i < 16 + a[0]!; i++) hs.update(salt);
  const s = repeatTo(hs.digest(), salt.length);
  let c = a;
  for (let i = 0; i < rounds; i++) {
    const hc = h();
    hc.update(i & 1 ? p : c);
    if (i % 3) hc.update(s);
    if (i % 7) hc.update(p);
    hc.update(i & 1 ? c : p);
    c = hc.digest();
  }
  return c;
}

const FORMAT = /^\$([56])\$(?:rounds=(\d{1,9})\$)?([^$]{0,16})[^$]*\$([./0-9A-Za-z]{43}|[./0-9A-Za-z]{86})$/;

/** Whether `stored` looks like a SHA-crypt hash. */
export function isShaCrypt(stored: string): boolean {
  return FORMAT.test(stored);
}

const SETTING = /^\$([56])\$(?:rounds=(\d{1,9})\$)?([^$]*)/;

/** The rounds a SHA-crypt setting or hash asks for, as the spec reads them (default 5000, at least 1000); undefined for none. */
export function shaCryptRounds(setting: string): number | undefined {
  const m = SETTING.exec(setting);
  if (!m) return undefined;
  return m[2] !== undefined ? Math.min(ROUNDS_MAX, Math.max(ROUNDS_MIN, Number(m[2]))) : ROUNDS_DEFAULT;
}

/** The hash of `password` with the salt and rounds of `setting` (`$6$rounds=N$salt`), as crypt(3) writes it. */
export function shaCrypt(password: string, setting: string, maxRounds = ROUNDS_MAX): string {
  const m = SETTING.exec(setting);
  if (!m) throw new Error('not a SHA-crypt setting');
  const v = m[1] === '5' ? SHA256 : SHA512;
  const explicit = m[2] !== undefined;
  const rounds = shaCryptRounds(setting)!;
  if (rounds > maxRounds) throw new Error(`SHA-crypt rounds ${rounds} above the allowed ${maxRounds}`);
  // The salt is at most 16 characters; longer ones are cut (the spec's rule).
  const salt = m[3]!.slice(0, 16);
  const d = digest(v, Buffer.from(password, 'utf8'), Buffer.from(salt, 'utf8'), rounds);
  return `$${m[1]}$${explicit ? `rounds=${rounds}$` : ''}${salt}$${encode(v, d)}`;
}

/**
 * Checks `password` against a stored SHA-crypt hash in constant time, here and now (it takes
 * milliseconds to seconds: the service calls it on a worker thread, sha-crypt-threads.ts). Rounds
 * above `maxRounds` are refused (false) without computing anything.
 */
export function verifyShaCrypt(password: string, stored: string, maxRounds = SHA_CRYPT_MAX_ROUNDS): boolean {
  if (!FORMAT.test(stored)) return false;
  let computed: string;
  try {
    computed = shaCrypt(password, stored, maxRounds);
  } catch {
    return false;
  }
  const a = Buffer.from(computed);
  const b = Buffer.from(stored);
  return a.length === b.length && timingSafeEqual(a, b);
}
