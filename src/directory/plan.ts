import type { LdapFilter } from '../wire/ldap/index.js';
import { attributeDef } from './attributes.js';
import { filterAttribute } from './match.js';
import { equalityKey, normalisePiece, prefixUpperBound } from './normalise.js';

/**
 * The query planner: which entries can possibly match, from the `dir_values` index alone.
 * Equality on an indexed attribute and a substring filter with an initial part on an indexed
 * string attribute become index terms; `and` uses any indexable part (intersection), `or`
 * only when every part is indexable (union). Anything else is a scan in id order. The plan
 * only narrows candidates: every candidate is still evaluated against the whole filter.
 * repo-search.ts turns a term into SQL.
 */
export type IndexTerm =
  | { op: 'eq'; attr: string; key: string }
  | { op: 'prefix'; attr: string; lo: string; hi: string | undefined }
  | { op: 'and' | 'or'; parts: IndexTerm[] }
  | { op: 'none' };

export type Plan = { kind: 'scan' } | { kind: 'index'; term: IndexTerm };

export function planFilter(f: LdapFilter): Plan {
  const term = indexTerm(f);
  return term ? { kind: 'index', term } : { kind: 'scan' };
}

function indexTerm(f: LdapFilter): IndexTerm | undefined {
  switch (f.type) {
    case 'equality': {
      const def = attributeDef(filterAttribute(f.attribute));
      if (!def?.indexed || def.syntax === 'binary') return undefined;
      const s = f.value.toString('utf8');
      if (!Buffer.from(s, 'utf8').equals(f.value)) return { op: 'none' };
      const key = equalityKey(def.syntax, s);
      return key === null ? { op: 'none' } : { op: 'eq', attr: def.name, key };
    }
    case 'substrings': {
      const def = attributeDef(filterAttribute(f.attribute));
      if (!def?.indexed || def.syntax !== 'string' || !f.initial) return undefined;
      const s = f.initial.toString('utf8');
      if (!Buffer.from(s, 'utf8').equals(f.initial)) return { op: 'none' };
      const lo = normalisePiece(s).trimStart();
      if (lo === '') return undefined;
      return { op: 'prefix', attr: def.name, lo, hi: prefixUpperBound(lo) };
    }
    case 'and': {
      const parts = f.filters.map(indexTerm).filter((t): t is IndexTerm => t !== undefined);
      if (parts.some((p) => p.op === 'none')) return { op: 'none' };
      if (parts.length === 0) return undefined;
      return parts.length === 1 ? parts[0] : { op: 'and', parts };
    }
    case 'or': {
      if (f.filters.length === 0) return { op: 'none' };
      const parts = f.filters.map(indexTerm);
      if (parts.some((p) => p === undefined)) return undefined;
      const live = (parts as IndexTerm[]).filter((p) => p.op !== 'none');
      if (live.length === 0) return { op: 'none' };
      return live.length === 1 ? live[0] : { op: 'or', parts: live };
    }
    default:
      return undefined;
  }
}
