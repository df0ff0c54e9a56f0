import { randomFillSync } from 'node:crypto';

// Names made per message (queue ids, temp file names) need to be unique, not secret, but come
// from the CSPRNG all the same. A `randomBytes` call per name would enter the CSPRNG for every
// name; drawing from a refilled 4 KB block, as node's randomUUID does, enters it once per
// hundreds of names.
const pool = Buffer.alloc(4096);
let used = pool.length;

/** `bytes` random bytes as lower-case hex, from a pooled block of the CSPRNG's output. Not for keys or tokens. */
export function randomHex(bytes: number): string {
  if (!Number.isInteger(bytes) || bytes <= 0 || bytes > 256) throw new RangeError(`randomHex: ${bytes} bytes`);
  if (used + bytes > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const hex = pool.toString('hex', used, used + bytes);
  // Each byte is handed out once.
  pool.fill(0, used, used + bytes);
  used += bytes;
  return hex;
}
