/**
 * The attributes clients look up by equality all day (a recipient's address, a Telematik-ID,
 * a uid, a domain). Their `dir_values` keys are kept in memory so that such a search needs no
 * SQL when the entry is cached as well.
 */
export const HOT_ATTRIBUTES: readonly string[] = ['uid', 'telematikID', 'mail', 'domainID'];

const NONE: readonly number[] = [];

/**
 * Equality key → entry ids (ascending) for the hot attributes: a copy of `dir_values` at one
 * store version. Immutable once finished; the Directory drops it whenever its cache is cleared
 * (see Directory.fresh for when that happens) and builds a new one.
 */
export class EqualityIndex {
  // Most keys name one entry: a bare number then, an array only for the few shared keys.
  private readonly byAttr = new Map<string, Map<string, number | number[]>>();
  private keyCount = 0;

  constructor() {
    for (const a of HOT_ATTRIBUTES) this.byAttr.set(a, new Map());
  }

  add(attr: string, key: string, id: number): void {
    const m = this.byAttr.get(attr);
    if (!m) return;
    const cur = m.get(key);
    if (cur === undefined) {
      m.set(key, id);
      this.keyCount++;
    } else if (typeof cur === 'number') {
      if (cur !== id) m.set(key, [cur, id]);
    } else if (!cur.includes(id)) cur.push(id);
  }

  /** Sorts the shared keys' ids (rows arrive in key order, not id order). */
  finish(): this {
    for (const m of this.byAttr.values()) for (const v of m.values()) if (typeof v !== 'number') v.sort((a, b) => a - b);
    return this;
  }

  /** The ids with this key in ascending order; undefined when the attribute is not held here. */
  ids(attr: string, key: string): readonly number[] | undefined {
    const m = this.byAttr.get(attr);
    if (!m) return undefined;
    const v = m.get(key);
    return v === undefined ? NONE : typeof v === 'number' ? [v] : v;
  }

  get size(): number {
    return this.keyCount;
  }
}

/**
 * The attributes clients search by prefix (`(displayName=Praxis Dr. M*)`): their normalised
 * values are kept sorted in memory, so such a search needs no SQL when its entries are cached.
 */
export const PREFIX_ATTRIBUTES: readonly string[] = ['displayName'];

/**
 * Normalised value → entry id, sorted by value (JS string order: the values starting with a
 * prefix are one contiguous run in any lexicographic order), for the prefix attributes: a copy
 * of their `dir_values` keys at one store version, like EqualityIndex.
 */
export class PrefixIndex {
  private readonly rows = new Map<string, Array<{ norm: string; id: number }>>();
  private readonly sorted = new Map<string, { norms: string[]; ids: Float64Array }>();

  constructor() {
    for (const a of PREFIX_ATTRIBUTES) this.rows.set(a, []);
  }

  add(attr: string, norm: string, id: number): void {
    this.rows.get(attr)?.push({ norm, id });
  }

  finish(): this {
    for (const [attr, rows] of this.rows) {
      rows.sort((a, b) => (a.norm < b.norm ? -1 : a.norm > b.norm ? 1 : a.id - b.id));
      const norms = rows.map((r) => r.norm);
      const ids = Float64Array.from(rows, (r) => r.id);
      this.sorted.set(attr, { norms, ids });
    }
    this.rows.clear();
    return this;
  }

  /**
   * The ids of the entries with a value starting with `prefix`, ascending and distinct; undefined
   * when the attribute is not held here or more than `max` values match (the caller then asks SQL).
   */
  idsWithPrefix(attr: string, prefix: string, max: number): Float64Array | undefined {
    const s = this.sorted.get(attr);
    if (!s) return undefined;
    const { norms, ids } = s;
    let lo = 0;
    let hi = norms.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (norms[mid]! < prefix) lo = mid + 1;
      else hi = mid;
    }
    let end = lo;
    while (end < norms.length && norms[end]!.startsWith(prefix)) {
      if (end - lo >= max) return undefined;
      end++;
    }
    const out = ids.slice(lo, end).sort();
    // An entry with two values starting with the prefix is one candidate.
    let n = 0;
    for (let k = 0; k < out.length; k++) if (k === 0 || out[k] !== out[k - 1]) out[n++] = out[k]!;
    return n === out.length ? out : out.subarray(0, n);
  }
}
