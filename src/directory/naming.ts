import { UsageError } from '../core/index.js';
import { parseDn, normaliseDn, escapeDnValue, DnSyntaxError, type Dn } from '../wire/ldap/index.js';
import type { DirEntry } from './entry.js';
import { DirectoryError } from './errors.js';
import type { Matchable } from './match.js';
import { baseMatchable, entryMatchable } from './views.js';

/** Where a DN lies in the naming context (DirectoryNames.place). */
export type Place =
  | { kind: 'base' }
  /** One RDN below the base or deeper: `uid` when that RDN is uid=…, `deeper` when the DN goes further down. */
  | { kind: 'below'; uid: string | undefined; deeper: boolean }
  | { kind: 'outside' };

const BASE: Place = { kind: 'base' };

/**
 * The naming context: entries are uid=…,<baseDn> under one container entry. DNs of entries,
 * the uid a DN names, and entries and the container as filters see them (their DN values).
 */
export class DirectoryNames {
  /** The base DN as configured. */
  readonly baseDn: string;
  private readonly parsed: Dn;
  private readonly norm: string;
  private baseMatch: Matchable | undefined;

  constructor(baseDn: string) {
    try {
      this.parsed = parseDn(baseDn);
    } catch (err) {
      throw new UsageError(`directory.baseDn "${baseDn}": ${(err as Error).message}`);
    }
    if (this.parsed.length === 0) throw new UsageError('directory.baseDn must not be empty');
    this.baseDn = baseDn;
    this.norm = normaliseDn(this.parsed);
  }

  dnOf(e: Pick<DirEntry, 'uid' | 'answers'>): string {
    if (e.answers?.dn !== undefined) return e.answers.dn;
    const dn = `uid=${escapeDnValue(e.uid)},${this.baseDn}`;
    // Only stored entries (in the cache, immutable) carry the memo.
    if ('id' in e && (e as DirEntry).id > 0) ((e as DirEntry).answers ??= {}).dn = dn;
    return dn;
  }

  /** The uid of a DN `uid=…,<base>`, or undefined for any other DN; throws DirectoryError(invalidDn) on a bad DN. */
  uidOfDn(dn: string): string | undefined {
    return this.valueBelowBase(dn, 'uid');
  }

  /**
   * The value of a DN `<attribute>=…,<base>` (one single-valued RDN right below the base), or
   * undefined for any other DN; throws DirectoryError(invalidDn) on a bad DN.
   */
  valueBelowBase(dn: string, attribute: string): string | undefined {
    let parsed: Dn;
    try {
      parsed = parseDn(dn);
    } catch (err) {
      throw new DirectoryError('invalidDn', `"${dn}" is not a DN: ${(err as Error).message}`);
    }
    if (parsed.length !== this.parsed.length + 1 || normaliseDn(parsed.slice(1)) !== this.norm) return undefined;
    return valueOf(parsed[0]!, attribute);
  }

  isBaseDn(dn: string): boolean {
    try {
      return normaliseDn(parseDn(dn)) === this.norm;
    } catch {
      return false;
    }
  }

  /** Where a search base lies; throws DirectoryError(invalidDn) on a bad DN. */
  place(dn: string): Place {
    let parsed: Dn;
    try {
      parsed = parseDn(dn);
    } catch (err) {
      if (err instanceof DnSyntaxError) throw new DirectoryError('invalidDn', `invalid base DN: ${err.message}`);
      throw err;
    }
    const n = this.parsed.length;
    if (parsed.length === n && normaliseDn(parsed) === this.norm) return BASE;
    if (parsed.length <= n || normaliseDn(parsed.slice(-n)) !== this.norm) return { kind: 'outside' };
    return { kind: 'below', uid: valueOf(parsed[parsed.length - n - 1]!, 'uid'), deeper: parsed.length > n + 1 };
  }

  /** The base DN's first RDN (the container entry's naming attribute). */
  get baseRdn(): { type: string; value: string } {
    return this.parsed[0]![0]!;
  }

  /** A stored entry as filters see it. */
  matchable(e: DirEntry): Matchable {
    return entryMatchable(
      e,
      () => this.dnOf(e),
      () => [e.uid, ...this.parsed.flatMap((r) => r.map((a) => a.value))],
    );
  }

  /** The container entry as filters see it. */
  baseMatchable(): Matchable {
    const a = this.parsed[0]![0]!;
    return (this.baseMatch ??= baseMatchable(a.type, a.value, this.baseDn, this.parsed.flatMap((r) => r.map((x) => x.value))));
  }
}

/** The value of a single-valued RDN of `attribute` (lower case). */
function valueOf(rdn: Dn[number], attribute: string): string | undefined {
  return rdn.length === 1 && rdn[0]!.type.toLowerCase() === attribute ? rdn[0]!.value : undefined;
}
