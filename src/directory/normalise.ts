import type { Syntax } from './attributes.js';

/**
 * Matching-rule views of values. caseIgnoreMatch (RFC 4518, simplified): Unicode NFKC, lower
 * case, leading/trailing space removed, inner runs of white space collapsed to one space.
 * This is also the form stored in `dir_values.norm`, so index lookups and in-memory matching
 * agree by construction.
 */
export function normaliseString(v: string): string {
  return v.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();
}

/** For substring pieces: the same, but a piece keeps a single space at its ends. */
export function normalisePiece(v: string): string {
  return v.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ');
}

/**
 * approxMatch: case, white space, punctuation and diacritics ignored
 * ("Dr. Anna Müller" ~ "dr anna muller"; not ~ "mueller").
 */
export function normaliseApprox(v: string): string {
  return v.normalize('NFKD').replace(/[\p{M}\p{P}\s]/gu, '').toLowerCase();
}

/** integerMatch: leading zeros and `+` dropped; not an integer → null (no match). */
export function normaliseInteger(v: string): string | null {
  const m = /^\s*([+-]?)0*(\d+)\s*$/.exec(v);
  if (!m) return null;
  const digits = m[2]!;
  return (m[1] === '-' && digits !== '0' ? '-' : '') + digits;
}

export function normaliseBoolean(v: string): string | null {
  const u = v.trim().toUpperCase();
  return u === 'TRUE' || u === 'FALSE' ? u : null;
}

/** The equality key of a value under its syntax, or null when the value cannot match. */
export function equalityKey(syntax: Syntax, v: string): string | null {
  switch (syntax) {
    case 'integer':
      return normaliseInteger(v);
    case 'boolean':
      return normaliseBoolean(v);
    default:
      return normaliseString(v);
  }
}

/** Orders two integer keys (from normaliseInteger). */
export function compareIntegers(a: string, b: string): number {
  const na = a.startsWith('-');
  const nb = b.startsWith('-');
  if (na !== nb) return na ? -1 : 1;
  const sign = na ? -1 : 1;
  const da = na ? a.slice(1) : a;
  const db = nb ? b.slice(1) : b;
  if (da.length !== db.length) return sign * (da.length - db.length);
  return sign * (da < db ? -1 : da > db ? 1 : 0);
}

/** Code point order (what the "C" collation and SQLite's binary order do on UTF-8). */
export function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The smallest string greater than every string that starts with `p`: the last code point
 * incremented (U+10FFFF ones dropped first). `undefined` when no such string exists.
 */
export function prefixUpperBound(p: string): string | undefined {
  const cps = [...p].map((c) => c.codePointAt(0)!);
  while (cps.length && cps[cps.length - 1] === 0x10ffff) cps.pop();
  if (!cps.length) return undefined;
  let last = cps.pop()! + 1;
  if (last >= 0xd800 && last <= 0xdfff) last = 0xe000; // surrogates are not characters
  cps.push(last);
  return String.fromCodePoint(...cps);
}
