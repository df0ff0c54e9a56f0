import { z } from 'zod';
import { isIP } from 'node:net';

/** The value types every area of postamt.yaml uses. */

export const port = z.number().int().min(0).max(65535);
export const host = z.string().min(1);
/** Milliseconds, 0 allowed (areas put their own lower bound where 0 makes no sense). */
export const duration = z.number().int().min(0);
/** Who may send a password without TLS: loopback clients only (default), everyone, no one. */
export const plaintextPolicy = z.enum(['loopback', 'always', 'never']).default('loopback');

/** An address (`10.1.2.3`, `2001:db8::1`) or a network in CIDR form (`10.0.0.0/8`, `fd00::/8`). */
export const addressOrNetwork = z.string().refine((v) => {
  const [addr, bits, ...rest] = v.split('/');
  if (rest.length || !addr || !isIP(addr)) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d{1,3}$/.test(bits) && n <= (isIP(addr) === 4 ? 32 : 128);
}, 'an IP address or a network such as 10.0.0.0/8');

/**
 * The connection limit per client address of a listener, and the addresses it does not count:
 * by default loopback, as Postfix leaves $mynetworks out (a local client module or relay host).
 */
export const perAddressLimits = {
  maxConnectionsPerAddress: z.number().int().min(1).default(50),
  connectionLimitExceptions: z.array(addressOrNetwork).default(['127.0.0.0/8', '::1']),
};
