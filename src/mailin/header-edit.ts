import type { HeaderChanges } from './types.js';

const NAME_RE = /^[\x21-\x39\x3b-\x7e]{1,76}$/;
/** Trace fields record the path the message took; an agent may not rewrite history. */
const PROTECTED = new Set(['received', 'return-path']);
const MAX_VALUE = 900;

export class HeaderEditError extends Error {}

/** Checks an agent's header changes; throws HeaderEditError naming the first bad one. */
export function checkHeaderChanges(changes: unknown): HeaderChanges {
  if (changes === null || typeof changes !== 'object' || Array.isArray(changes)) throw new HeaderEditError('headers must be an object of name → value (or null to remove)');
  const out: HeaderChanges = {};
  for (const [name, value] of Object.entries(changes as Record<string, unknown>)) {
    if (!NAME_RE.test(name)) throw new HeaderEditError(`"${name.slice(0, 80)}" is not a header field name`);
    if (PROTECTED.has(name.toLowerCase())) throw new HeaderEditError(`${name} may not be changed by an agent`);
    if (value === null) {
      out[name] = null;
      continue;
    }
    if (typeof value !== 'string') throw new HeaderEditError(`the value of ${name} must be a string or null`);
    if (/[\r\n\0]/.test(value)) throw new HeaderEditError(`the value of ${name} contains a line break or NUL`);
    if (Buffer.byteLength(value) > MAX_VALUE) throw new HeaderEditError(`the value of ${name} is longer than ${MAX_VALUE} bytes`);
    out[name] = value;
  }
  return out;
}

/** Where the header block ends: the offset just after its last CRLF (before the empty line). */
function headerEnd(raw: Buffer): { end: number; bodyStart: number } {
  const i = raw.indexOf('\r\n\r\n');
  if (i >= 0) return { end: i + 2, bodyStart: i + 4 };
  // No body: the whole message is header (it ends with CRLF after DATA's checks).
  return { end: raw.length, bodyStart: raw.length };
}

/**
 * Applies header changes to a message: every field of a changed name is removed (with its
 * continuation lines) and a set value is appended at the end of the header block. The body
 * and every other byte stay as they were.
 */
export function applyHeaderChanges(raw: Buffer, changes: HeaderChanges): Buffer {
  const names = new Set(Object.keys(changes).map((n) => n.toLowerCase()));
  if (names.size === 0) return raw;
  const { end, bodyStart } = headerEnd(raw);
  const head = raw.subarray(0, end).toString('latin1');
  const kept: string[] = [];
  let dropping = false;
  for (const line of head.split(/(?<=\r\n)/)) {
    if (line === '') continue;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (!dropping) kept.push(line);
      continue;
    }
    const colon = line.indexOf(':');
    const name = (colon > 0 ? line.slice(0, colon) : line).trim().toLowerCase();
    dropping = names.has(name);
    if (!dropping) kept.push(line);
  }
  const added = Object.entries(changes)
    .filter(([, v]) => v !== null)
    .map(([n, v]) => Buffer.from(`${n}: ${v}\r\n`, 'utf8'));
  return Buffer.concat([Buffer.from(kept.join(''), 'latin1'), ...added, Buffer.from('\r\n'), raw.subarray(bodyStart)]);
}

/** A folder name an agent may file into: printable, at most 200 characters; '' is the inbox. */
export function checkFolder(folder: unknown): string {
  if (typeof folder !== 'string' || folder.length > 200 || /[\x00-\x1f\x7f]/.test(folder)) throw new HeaderEditError('folder must be a printable string of at most 200 characters');
  return folder;
}
