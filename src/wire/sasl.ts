import { PostamtError } from '../core/index.js';

/**
 * SASL messages as SMTP (RFC 4954) and POP3 (RFC 5034) carry them: base64 on a line, "*" to
 * cancel, PLAIN (RFC 4616) for both directions, LOGIN (the de-facto mechanism, a user name and
 * a password each in base64) for clients of servers that offer nothing else. One codec for the
 * POP3 server, the POP3 and SMTP clients and the tests.
 */

/** The three parts of a SASL PLAIN message (RFC 4616); `authzid` is "" when not given. */
export interface SaslPlainCredentials {
  authzid: string;
  authcid: string;
  password: string;
}

/** What the client sent on an AUTH continuation line. */
export type SaslResponse = { cancel: true } | { cancel: false; base64: string };

export type SaslProblem = 'bad-base64' | 'bad-sasl';

/** The only error the codec throws; its message is fit for the peer (it echoes no input). */
export class SaslError extends PostamtError {
  constructor(
    readonly reason: SaslProblem,
    message: string,
  ) {
    super('sasl-syntax', message);
    this.name = 'SaslError';
  }
}

// Canonical base64 only: Buffer.from(…, 'base64') silently skips junk, which would let two
// different wire strings mean the same credentials and hide client bugs.
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// RFC 4616 section 2: each of authzid, authcid and passwd is at most 255 octets.
const MAX_PART = 255;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Classifies an AUTH continuation line: "*" cancels (RFC 4954 section 4, RFC 5034 section 4),
 * anything else must be base64. `line` is the already decoded text of the line (without CRLF).
 */
export function parseSaslResponse(line: string): SaslResponse {
  if (line === '*') return { cancel: true };
  if (!BASE64_RE.test(line)) throw new SaslError('bad-base64', 'malformed base64 in SASL response');
  return { cancel: false, base64: line };
}

/** Decodes the base64 of a SASL PLAIN message into its parts, refusing anything malformed. */
export function decodeSaslPlain(base64: string): SaslPlainCredentials {
  if (base64 === '' || !BASE64_RE.test(base64)) throw new SaslError('bad-base64', 'malformed base64 in SASL response');
  const raw = Buffer.from(base64, 'base64');
  const first = raw.indexOf(0);
  const second = first < 0 ? -1 : raw.indexOf(0, first + 1);
  if (first < 0 || second < 0 || raw.indexOf(0, second + 1) >= 0) {
    throw new SaslError('bad-sasl', 'SASL PLAIN needs exactly authzid NUL authcid NUL password');
  }
  const parts = [raw.subarray(0, first), raw.subarray(first + 1, second), raw.subarray(second + 1)];
  if (parts.some((p) => p.length > MAX_PART)) throw new SaslError('bad-sasl', 'SASL PLAIN field longer than 255 octets');
  if (parts[1]!.length === 0) throw new SaslError('bad-sasl', 'SASL PLAIN without a user name');
  if (parts[2]!.length === 0) throw new SaslError('bad-sasl', 'SASL PLAIN without a password');
  try {
    const [authzid, authcid, password] = parts.map((p) => utf8.decode(p)) as [string, string, string];
    return { authzid, authcid, password };
  } catch {
    throw new SaslError('bad-sasl', 'SASL PLAIN fields must be UTF-8');
  }
}

/**
 * Encodes SASL PLAIN credentials. A NUL inside a part would shift the fields on the other side
 * (another user name): refused, as RFC 4616 forbids it.
 */
export function encodeSaslPlain(c: { authzid?: string; authcid: string; password: string }): string {
  const authzid = c.authzid ?? '';
  if (authzid.includes('\0') || c.authcid.includes('\0') || c.password.includes('\0')) throw new SaslError('bad-sasl', 'SASL PLAIN fields must not contain NUL');
  return Buffer.from(`${authzid}\0${c.authcid}\0${c.password}`, 'utf8').toString('base64');
}

/** One of the two answers of SASL LOGIN (the user name, then the password): UTF-8 in base64. */
export function encodeSaslLogin(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64');
}
