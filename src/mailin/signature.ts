import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures: `X-Postamt-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`
 * with the Unix time in seconds in `X-Postamt-Timestamp`. The timestamp is inside the MAC so a
 * receiver can refuse old requests (replays); `v1=` leaves room for another scheme later.
 */
export const SIGNATURE_HEADER = 'x-postamt-signature';
export const TIMESTAMP_HEADER = 'x-postamt-timestamp';

export function sign(secret: string, timestamp: string, body: string | Buffer): string {
  const mac = createHmac('sha256', secret);
  mac.update(timestamp + '.');
  mac.update(body);
  return `v1=${mac.digest('hex')}`;
}

/**
 * What a receiver does (the README shows the same in a few lines): recompute, compare in
 * constant time, and refuse timestamps further than `toleranceS` from now.
 */
export function verify(secret: string, timestamp: string, body: string | Buffer, signature: string, toleranceS = 300, nowS = Date.now() / 1000): boolean {
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(nowS - Number(timestamp)) > toleranceS) return false;
  const expected = Buffer.from(sign(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
