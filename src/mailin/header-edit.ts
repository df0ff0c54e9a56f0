import type { HeaderChanges } from './types.js';
import { editHeader, HeaderSyntaxError, readHeaderBlock } from '../wire/mime/index.js';

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

/**
 * Applies header changes to a message on its bytes (wire/mime's editHeader): every field of a
 * changed name is removed (with its continuation lines) and a set value is appended at the end
 * of the header block. The body and every other byte stay as they were. A header block the
 * codec cannot read (a line that is no field) throws HeaderEditError: which bytes belong to
 * which field would be a guess, so the caller files the message unchanged.
 */
export function applyHeaderChanges(raw: Buffer, changes: HeaderChanges): Buffer {
  const names = new Set(Object.keys(changes).map((n) => n.toLowerCase()));
  if (names.size === 0) return raw;
  let block;
  try {
    block = readHeaderBlock(raw);
  } catch (err) {
    if (err instanceof HeaderSyntaxError) throw new HeaderEditError(`the message's header cannot be edited: ${err.message} at byte ${err.offset}`);
    throw err;
  }
  const drop = new Set(block.fields.filter((f) => names.has(f.key)));
  const append = Object.entries(changes)
    .filter((e): e is [string, string] => e[1] !== null)
    .map(([n, v]) => Buffer.from(`${n}: ${v}\r\n`, 'utf8').toString('latin1'));
  return editHeader(raw, block, { drop, append });
}

/** A folder name an agent may file into: printable, at most 200 characters; '' is the inbox. */
export function checkFolder(folder: unknown): string {
  if (typeof folder !== 'string' || folder.length > 200 || /[\x00-\x1f\x7f]/.test(folder)) throw new HeaderEditError('folder must be a printable string of at most 200 characters');
  return folder;
}
