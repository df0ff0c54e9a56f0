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
