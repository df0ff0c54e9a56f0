import { Pop3ResponseError } from './response-reader.js';

/**
 * POP3 responses both ways: the server's encoders (status lines, continuation, short
 * multi-line listings) and the client's decoders of what those carry (STAT, LIST, UIDL). The
 * framing of a client's byte stream into responses is response-reader.ts.
 */

/**
 * Response codes from RFC 2449 (IN-USE, LOGIN-DELAY) and RFC 3206 (SYS/TEMP, SYS/PERM, AUTH),
 * advertised with the RESP-CODES and AUTH-RESP-CODE capabilities.
 */
export type Pop3ResponseCode = 'AUTH' | 'SYS/TEMP' | 'SYS/PERM' | 'IN-USE' | 'LOGIN-DELAY';

const CRLF = '\r\n';

/**
 * Response text must stay on one line whatever a caller passes (a backend message, a user
 * name): CR/LF would let the text forge further responses, so controls become spaces.
 */
function oneLine(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, ' ');
}

function line(status: '+OK' | '-ERR', text: string, code?: Pop3ResponseCode): string {
  const parts: string[] = [status];
  if (code) parts.push(`[${code}]`);
  const t = oneLine(text);
  if (t !== '') parts.push(t);
  return parts.join(' ') + CRLF;
}

/** `+OK text` with CRLF. */
export function okLine(text = '', code?: Pop3ResponseCode): string {
  return line('+OK', text, code);
}

/** `-ERR [CODE] text` with CRLF. */
export function errLine(text: string, code?: Pop3ResponseCode): string {
  return line('-ERR', text, code);
}

/** The SASL continuation (RFC 5034 section 4): `+ ` and the base64 challenge, empty for PLAIN. */
export function continuationLine(challengeBase64 = ''): string {
  return `+ ${challengeBase64}${CRLF}`;
}

/** A whole multi-line response of short text lines (CAPA, LIST, UIDL), dot-stuffed and ended. */
export function multiline(first: string, lines: readonly string[]): string {
  const body = lines.map((l) => (l.startsWith('.') ? `.${oneLine(l)}` : oneLine(l)) + CRLF).join('');
  return first + body + '.' + CRLF;
}

/** The maildrop's size from a STAT answer, "+OK count octets" (RFC 1939 section 5). */
export function parseStat(status: string): { count: number; size: number } {
  const m = /^\+OK (\d+) (\d+)/.exec(status);
  if (!m) throw new Pop3ResponseError('bad-listing', `unexpected STAT answer: ${status.slice(0, 80)}`);
  return { count: Number(m[1]), size: Number(m[2]) };
}

/** A LIST body: message number → size as the server counts it. */
export function parseScanListing(body: Buffer): Array<{ n: number; size: number }> {
  return parseListing(body, (n, rest) => {
    if (!/^\d+$/.test(rest)) throw new Pop3ResponseError('bad-listing', `bad LIST line for message ${n}`);
    return { n, size: Number(rest) };
  });
}

/** A UIDL body: message number → unique id (RFC 1939 section 7: 1 to 70 printable characters). */
export function parseUidListing(body: Buffer): Array<{ n: number; uid: string }> {
  return parseListing(body, (n, rest) => {
    if (!/^[\x21-\x7e]{1,70}$/.test(rest)) throw new Pop3ResponseError('bad-listing', `bad UIDL line for message ${n}`);
    return { n, uid: rest };
  });
}

function parseListing<T>(body: Buffer, row: (n: number, rest: string) => T): T[] {
  const out: T[] = [];
  for (const line of body.toString('latin1').split('\r\n')) {
    if (line === '') continue;
    const m = /^(\d+) (.*)$/.exec(line);
    if (!m) throw new Pop3ResponseError('bad-listing', `bad listing line: ${line.slice(0, 80)}`);
    out.push(row(Number(m[1]), m[2]!.trim()));
  }
  return out;
}
