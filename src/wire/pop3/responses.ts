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
