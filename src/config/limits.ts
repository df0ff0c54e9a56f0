import { z } from 'zod';
import { duration, perAddressLimits } from './fields.js';

/**
 * The session limits of an SMTP and of a POP3 listener, one fragment each, so the service
 * (`service.smtp`, `service.pop3`) and the client module (`clientModule.smtp`,
 * `clientModule.pop3`) have the same keys with the same defaults, each its own values.
 */

export const smtpSessionLimits = {
  maxConnections: z.number().int().min(1).default(500),
  ...perAddressLimits,
  /** Longest line in DATA, in octets without CRLF (RFC 5322 2.1.1 allows 998). */
  maxLineLength: z.number().int().min(78).default(998),
  /** What to do with a bare LF or CR in DATA: refuse (smuggling defence) or turn into CRLF. */
  bareLineFeed: z.enum(['reject', 'normalize']).default('reject'),
  /**
   * Time for each command line, from the previous reply on; bytes that do not complete a line
   * do not restart it (RFC 5321 4.5.3.2.7's five minutes; a client dribbling bytes is cut off).
   */
  socketTimeoutMs: duration.default(5 * 60_000),
  /** Time for the whole DATA phase, from 354 to the final dot. */
  dataTimeoutMs: duration.default(15 * 60_000),
  /** Least DATA rate, in bytes per second, averaged over every `dataRateWindowMs`; slower is cut off (421). */
  minDataRate: z.number().int().min(0).default(1024),
  dataRateWindowMs: duration.default(30_000),
  /** Error replies (4xx/5xx) in one session after which every further one is delayed by `errorDelayMs` (Postfix's smtpd_soft_error_limit). */
  softErrorLimit: z.number().int().min(0).default(10),
  /** Error replies after which the session is closed with 421 (smtpd_hard_error_limit). */
  hardErrorLimit: z.number().int().min(1).default(20),
  errorDelayMs: duration.default(1000),
  /** Look up the client's host name by reverse DNS for the Received header (slow on closed networks). */
  reverseLookup: z.boolean().default(false),
  /** Failed AUTH attempts on one connection before it is closed. */
  maxAuthFailures: z.number().int().min(1).default(3),
  /** Delay before answering a failed AUTH, to slow down guessing. */
  authFailureDelayMs: duration.default(1000),
};

export const pop3SessionLimits = {
  /** Longest command line in octets, CRLF included (RFC 2449 allows 255). */
  maxLineLength: z.number().int().min(64).default(512),
  maxConnections: z.number().int().min(1).default(500),
  ...perAddressLimits,
  /** Time for each command line (RFC 1939's autologout); bytes that do not complete a line do not restart it. */
  idleTimeoutMs: duration.default(10 * 60_000),
  authFailureDelayMs: duration.default(1000),
  maxAuthFailures: z.number().int().min(1).default(3),
  /** Commands accepted per session (a runaway client is cut off). */
  maxCommands: z.number().int().min(100).default(100_000),
  /**
   * RETR of a message larger than this many octets streams it from the blob store (bounded
   * memory, dot-stuffed on the fly) instead of loading it whole; smaller ones take the
   * whole-buffer path, which is faster for them.
   */
  streamAboveBytes: z.number().int().min(0).default(1024 * 1024),
};
