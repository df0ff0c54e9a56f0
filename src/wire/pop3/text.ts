import { Pop3SyntaxError } from './errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Checks the raw bytes of a line and decodes them. NUL and other control characters are refused
 * before anything else looks at the line: they are never legitimate in POP3 commands and are
 * the classic tools for confusing log parsers and back ends. 8-bit bytes are allowed (passwords
 * may be UTF-8), but must be valid UTF-8.
 */
export function decodeLine(line: Uint8Array, maxLength?: number): string {
  if (maxLength !== undefined && line.length + 2 > maxLength) {
    throw new Pop3SyntaxError('line-too-long', 'line too long');
  }
  for (const b of line) {
    if (b === 0) throw new Pop3SyntaxError('nul', 'NUL bytes are not allowed');
    if (b < 0x20 || b === 0x7f) throw new Pop3SyntaxError('control-character', 'control characters are not allowed');
  }
  try {
    return utf8.decode(line);
  } catch {
    throw new Pop3SyntaxError('bad-encoding', 'line is not valid UTF-8');
  }
}

/** A short, printable excerpt of client input, safe to put into a response or a log line. */
export function excerpt(s: string, max = 20): string {
  const clean = s.replace(/[^\x21-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}
