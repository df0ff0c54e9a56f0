import type { DirEntry } from './entry.js';

/**
 * Hot entries by id, and results of single-equality lookups (`mail=…` → ids), both bounded
 * (least recently used dropped first). The Directory clears both whenever the store's
 * directory version changes; see Freshness.fresh for the staleness bound.
 */
export class EntryCache {
  private readonly entries = new Map<number, DirEntry>();
  private readonly lookups = new Map<string, number[]>();

  /**
   * Set by the Directory when the cache holds every entry of the store (a warm-up loaded them
   * all at one version); cleared with the cache, which any change clears. Meanwhile hits do not
   * reorder (nothing is evicted while nothing is added).
   */
  complete = false;

  constructor(private readonly maxEntries: number) {}

  get capacity(): number {
    return Math.max(0, this.maxEntries);
  }

  has(id: number): boolean {
    return this.entries.has(id);
  }

  get(id: number): DirEntry | undefined {
    const e = this.entries.get(id);
    // Holding every entry, nothing is evicted until the next clear: the order does not matter
    // then (moving an entry rewrites the map, garbage on every search of a warm directory).
    if (e && !this.complete) {
      this.entries.delete(id);
      this.entries.set(id, e);
    }
    return e;
  }

  put(e: DirEntry): void {
    if (this.maxEntries <= 0) return;
    this.entries.delete(e.id);
    this.entries.set(e.id, e);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  lookup(key: string): number[] | undefined {
    const ids = this.lookups.get(key);
    if (ids) {
      this.lookups.delete(key);
      this.lookups.set(key, ids);
    }
    return ids;
  }

  putLookup(key: string, ids: number[]): void {
    if (this.maxEntries <= 0) return;
    this.lookups.set(key, ids);
    if (this.lookups.size > this.maxEntries) this.lookups.delete(this.lookups.keys().next().value!);
  }

  clear(): void {
    this.complete = false;
    this.entries.clear();
    this.lookups.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
