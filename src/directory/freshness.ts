import { EntryCache } from './cache.js';
import type { EqualityIndex } from './equality-index.js';
import type { PrefixIndex } from './prefix-index.js';
import * as repo from './repo.js';
import type { DirectoryStore } from './repo.js';

/** Directory instances sharing one database in this process learn of each other's writes at once. */
const localGenerations = new WeakMap<object, { gen: number }>();

/**
 * What this process holds of the directory in memory — the entry cache and the warm indexes —
 * and whether it is still current. A change through this process clears it at once (in every
 * Directory on the same database); a change by another node or process is noticed by the
 * store's directory version, read at most every `checkMs`: the staleness bound.
 */
export class Freshness {
  readonly cache: EntryCache;
  /** Rises whenever the cache is cleared; a read started before may not fill the cache. */
  generation = 0;
  /** The hot attributes' equality keys in memory; undefined while (re)building after a change. */
  index: EqualityIndex | undefined;
  /** The prefix attributes' values, sorted; installed and dropped together with `index`. */
  prefixIndex: PrefixIndex | undefined;
  /** Called after every clear (the warmer schedules a rebuild). */
  onClear: (() => void) | undefined;
  private readonly shared: { gen: number };
  private seenGen: number;
  private version = -1;
  private checkedAt = -Infinity;
  private checking: Promise<void> | undefined;

  constructor(
    private readonly store: DirectoryStore,
    cacheEntries: number,
    private readonly checkMs: number,
  ) {
    this.cache = new EntryCache(cacheEntries);
    let shared = localGenerations.get(store.db);
    if (!shared) localGenerations.set(store.db, (shared = { gen: 0 }));
    this.shared = shared;
    this.seenGen = shared.gen;
  }

  /** Tells every Directory on this database in this process that the data changed (after COMMIT). */
  changed(): void {
    this.shared.gen++;
    this.clear();
  }

  /** A change in this process (through any Directory on this database) that fresh() has not taken in yet. */
  get changeUnseen(): boolean {
    return this.shared.gen !== this.seenGen;
  }

  /** The store's version is due to be read again. */
  get checkDue(): boolean {
    return Date.now() - this.checkedAt >= this.checkMs;
  }

  /** Clears the cache if this process or (checked every checkMs) another node changed the data. */
  async fresh(): Promise<void> {
    if (this.changeUnseen) {
      this.seenGen = this.shared.gen;
      this.clear();
    }
    if (!this.checkDue) return;
    this.checking ??= (async () => {
      const started = Date.now();
      this.noteVersion(await this.readVersion());
      this.checkedAt = started;
    })().finally(() => (this.checking = undefined));
    await this.checking;
  }

  readVersion(): Promise<number> {
    return repo.readVersion(this.store.db, this.store.dialect);
  }

  /** A version read from the store: anything cached under another version goes. */
  noteVersion(v: number): void {
    if (v === this.version) return;
    this.version = v;
    this.clear();
  }

  /** Installs indexes built at the version the cache holds; `complete` when the cache holds every entry. */
  install(index: EqualityIndex, prefixIndex: PrefixIndex, complete: boolean): void {
    this.index = index;
    this.prefixIndex = prefixIndex;
    this.cache.complete = complete;
  }

  private clear(): void {
    this.cache.clear();
    this.generation++;
    this.index = undefined;
    this.prefixIndex = undefined;
    this.onClear?.();
  }
}
