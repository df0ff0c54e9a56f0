import type { LdapFilter } from '../wire/ldap/index.js';
import { CN, attributeDef, baseName, type Syntax } from './attributes.js';
import { compareCodePoints, compareIntegers, equalityKey, normaliseApprox, normalisePiece, normaliseString } from './normalise.js';

/**
 * Filter evaluation with RFC 4511 4.5.1.7 three-valued logic: TRUE, FALSE, or Undefined
 * (`undefined`: unknown attribute type, inapplicable matching rule, invalid assertion).
 * An entry is returned only when its filter is TRUE. A filter is compiled once per search
 * into a closure; assertion values are normalised once, entry values memoised per entry.
 */
export type Tri = boolean | undefined;

/** What a filter is evaluated against (a stored entry or the base DN's container entry). */
export interface Matchable {
  /**
   * Values of a (lower-case) attribute type: `null` when the type is unknown here,
   * an empty list when it is known and absent. Strings carry their syntax.
   */
  strings(lowerName: string): { syntax: Syntax; values: string[]; memo?: Map<string, Array<string | null>> } | null;
  binaries(lowerName: string): Buffer[] | null;
  /** The values of the entry's DN (for extensibleMatch dnAttributes). */
  dnValues(): string[];
}

export type Predicate = (m: Matchable) => Tri;

const CASE_IGNORE = new Set([undefined, '2.5.13.2', 'caseignorematch', '2.5.13.4', 'caseignoresubstringsmatch']);
const CASE_EXACT = new Set(['2.5.13.5', 'caseexactmatch']);
const OCTET = new Set(['2.5.13.17', 'octetstringmatch']);

/** Maps a filter's attribute description to the type matched (cn is displayName). */
export function filterAttribute(description: string): string {
  const { name } = baseName(description);
  return name === CN ? 'displayname' : name;
}

function isBinary(lower: string): boolean {
  return attributeDef(lower)?.syntax === 'binary';
}

function text(v: Buffer): string | null {
  const s = v.toString('utf8');
  return Buffer.from(s, 'utf8').equals(v) ? s : null;
}

/** Equality keys of an entry's values, memoised on the entry. */
function keysOf(view: { syntax: Syntax; values: string[]; memo?: Map<string, Array<string | null>> }, attr: string): Array<string | null> {
  const memoKey = 'eq:' + attr;
  const hit = view.memo?.get(memoKey);
  if (hit) return hit;
  const keys = view.values.map((v) => equalityKey(view.syntax, v));
  view.memo?.set(memoKey, keys);
  return keys;
}

export function compileFilter(f: LdapFilter): Predicate {
  switch (f.type) {
    case 'and': {
      const parts = f.filters.map(compileFilter);
      return (m) => {
        let result: Tri = true;
        for (const p of parts) {
          const r = p(m);
          if (r === false) return false;
          if (r === undefined) result = undefined;
        }
        return result;
      };
    }
    case 'or': {
      const parts = f.filters.map(compileFilter);
      return (m) => {
        let result: Tri = false;
        for (const p of parts) {
          const r = p(m);
          if (r === true) return true;
          if (r === undefined) result = undefined;
        }
        return result;
      };
    }
    case 'not': {
      const inner = compileFilter(f.filter);
      return (m) => {
        const r = inner(m);
        return r === undefined ? undefined : !r;
      };
    }
    case 'present': {
      const attr = filterAttribute(f.attribute);
      if (attr === 'objectclass') return () => true;
      if (isBinary(attr)) return (m) => (m.binaries(attr)?.length ?? 0) > 0;
      return (m) => (m.strings(attr)?.values.length ?? 0) > 0;
    }
    case 'equality':
      return equality(filterAttribute(f.attribute), f.value);
    case 'approxMatch': {
      const attr = filterAttribute(f.attribute);
      if (isBinary(attr)) return equality(attr, f.value);
      const s = text(f.value);
      if (s === null) return () => undefined;
      const want = normaliseApprox(s);
      return (m) => {
        const view = m.strings(attr);
        if (!view) return undefined;
        if (view.syntax !== 'string') return equality(attr, f.value)(m);
        return view.values.some((v) => normaliseApprox(v) === want);
      };
    }
    case 'substrings':
      return substrings(filterAttribute(f.attribute), f);
    case 'greaterOrEqual':
    case 'lessOrEqual': {
      const attr = filterAttribute(f.attribute);
      const s = text(f.value);
      const sign = f.type === 'greaterOrEqual' ? 1 : -1;
      if (s === null || isBinary(attr)) return () => undefined;
      return (m) => {
        const view = m.strings(attr);
        if (!view) return undefined;
        if (view.syntax === 'boolean') return undefined;
        const want = equalityKey(view.syntax, s);
        if (want === null) return undefined;
        const cmp = view.syntax === 'integer' ? compareIntegers : compareCodePoints;
        return keysOf(view, attr).some((k) => k !== null && sign * cmp(k, want) >= 0);
      };
    }
    case 'extensibleMatch':
      return extensible(f);
  }
}

function equality(attr: string, value: Buffer): Predicate {
  if (isBinary(attr)) return (m) => m.binaries(attr)?.some((b) => b.equals(value)) ?? undefined;
  const s = text(value);
  if (s === null) return () => undefined;
  const byKey = new Map<Syntax, string | null>();
  return (m) => {
    const view = m.strings(attr);
    if (!view) return undefined;
    let want = byKey.get(view.syntax);
    if (want === undefined) byKey.set(view.syntax, (want = equalityKey(view.syntax, s)));
    if (want === null) return undefined;
    return keysOf(view, attr).includes(want);
  };
}

function substrings(attr: string, f: Extract<LdapFilter, { type: 'substrings' }>): Predicate {
  if (isBinary(attr)) return () => undefined;
  const pieces = [f.initial, ...f.any, f.final].map((b) => (b === undefined ? undefined : text(b)));
  if (pieces.some((p) => p === null)) return () => undefined;
  const initial = f.initial === undefined ? undefined : normalisePiece(pieces[0]!).trimStart();
  const any = f.any.map((_, k) => normalisePiece(pieces[k + 1]!));
  const final = f.final === undefined ? undefined : normalisePiece(pieces[pieces.length - 1]!).trimEnd();
  return (m) => {
    const view = m.strings(attr);
    if (!view) return undefined;
    if (view.syntax !== 'string') return undefined;
    return keysOf(view, attr).some((v) => v !== null && matchesSubstrings(v, initial, any, final));
  };
}

/** initial, then each `any` in order without overlap, then final (RFC 4517 substrings). */
export function matchesSubstrings(v: string, initial: string | undefined, any: string[], final: string | undefined): boolean {
  let pos = 0;
  if (initial !== undefined) {
    if (!v.startsWith(initial)) return false;
    pos = initial.length;
  }
  for (const a of any) {
    const at = v.indexOf(a, pos);
    if (at < 0) return false;
    pos = at + a.length;
  }
  if (final !== undefined) return v.length - final.length >= pos && v.endsWith(final);
  return true;
}

function extensible(f: Extract<LdapFilter, { type: 'extensibleMatch' }>): Predicate {
  const rule = f.matchingRule?.toLowerCase();
  const s = text(f.value);
  let test: ((values: string[]) => boolean) | undefined;
  if (CASE_IGNORE.has(rule) && s !== null) {
    const want = normaliseString(s);
    test = (values) => values.some((v) => normaliseString(v) === want);
  } else if (CASE_EXACT.has(rule ?? '') && s !== null) {
    const want = s.trim().replace(/\s+/g, ' ');
    test = (values) => values.some((v) => v.trim().replace(/\s+/g, ' ') === want);
  } else if (OCTET.has(rule ?? '')) {
    test = (values) => values.some((v) => Buffer.from(v, 'utf8').equals(f.value));
  }
  if (!test) return () => undefined; // an unknown matching rule: Undefined (RFC 4511 4.5.1.7.7)
  const t = test;
  const attr = f.attribute === undefined ? undefined : filterAttribute(f.attribute);
  return (m) => {
    let result: Tri = false;
    if (attr !== undefined) {
      const view = m.strings(attr);
      if (!view) result = undefined;
      else if (t(view.values)) return true;
    }
    if (f.dnAttributes && t(m.dnValues())) return true;
    return result;
  };
}
