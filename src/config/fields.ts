import { z } from 'zod';

/** The value types every area of postamt.yaml uses. */

export const port = z.number().int().min(0).max(65535);
export const host = z.string().min(1);
/** Milliseconds, 0 allowed (areas put their own lower bound where 0 makes no sense). */
export const duration = z.number().int().min(0);
/** Who may send a password without TLS: loopback clients only (default), everyone, no one. */
export const plaintextPolicy = z.enum(['loopback', 'always', 'never']).default('loopback');
