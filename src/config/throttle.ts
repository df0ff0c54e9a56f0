import { z } from 'zod';
import { duration } from './fields.js';

/**
 * Failed logins counted per key (a client address, a user name) across connections: after
 * `freeFailures` in `windowMs` every further failure is answered after a delay starting at
 * `baseDelayMs` and doubling up to `maxDelayMs`. Used by `service.loginThrottle` and the
 * integration endpoint's throttles, each with its own defaults.
 */
export const throttleSchema = (defaults: { freeFailures: number; baseDelayMs: number }) =>
  z
    .object({
      /** Failures older than this are forgotten. */
      windowMs: duration.default(15 * 60_000),
      /** Failures in the window before the penalty starts. */
      freeFailures: z.number().int().min(0).default(defaults.freeFailures),
      /** The first penalty; it doubles with every further failure. */
      baseDelayMs: duration.default(defaults.baseDelayMs),
      maxDelayMs: duration.default(30_000),
    })
    .strict();
