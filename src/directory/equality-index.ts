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
 * (see Freshness.fresh for when that happens) and builds a new one.
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
