import { EqualityIndex, HOT_ATTRIBUTES } from './equality-index.js';
import type { Freshness } from './freshness.js';
import { PREFIX_ATTRIBUTES, PrefixIndex } from './prefix-index.js';
import * as repo from './repo.js';
import type { DirectoryStore } from './repo.js';

/** Rows per query while warming: short enough that searches in between are not held up for long. */
const WARM_BATCH = 2000;
/** Warming takes at most this share of the time after changes (it runs again only after 9× its own duration). */
const WARM_DUTY = 0.1;

/**
 * Keeps the equality index of the hot attributes, the prefix index and the entry cache (up to
 * its capacity, in id order) filled, rebuilding them in the background after every clear; until
 * a rebuild is done, searches take the SQL path. For servers; one-shot commands do not start it.
 */
export class Warmer {
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** The cache was cleared while a warm-up ran: run again when it ends. */
  private again = false;
  private lastMs = 0;
  private lastEnd = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(
    private readonly store: DirectoryStore,
    private readonly state: Freshness,
  ) {}

  start(): void {
    this.state.onClear = () => this.schedule();
    this.schedule();
  }

  /** Stops warming and waits for a warm-up in progress (before the store closes). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    this.wake();
  }

  /** Resolves when the indexes are installed (or warming stopped); the caller has called fresh(). */
  async warmed(): Promise<void> {
    if (this.stopped || this.state.index) return;
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    for (const r of this.waiters.splice(0)) r();
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    if (this.running) {
      this.again = true;
      return;
    }
    const delay = Math.max(0, this.lastEnd + ((1 - WARM_DUTY) / WARM_DUTY) * this.lastMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const started = Date.now();
      this.running = this.warmOnce()
        .catch(() => {
          // the store went away or failed: the SQL path still answers; try again later
          this.again = true;
        })
        .finally(() => {
          this.running = undefined;
          this.lastEnd = Date.now();
          this.lastMs = Math.max(this.lastEnd - started, 100);
          if (this.state.index || this.stopped) this.wake();
          if (this.again && !this.stopped) {
            this.again = false;
            this.schedule();
          }
        });
    }, delay);
  }

  /**
   * Every normalised value of `attrs` in dir_values, in batches (value order), to `add`; false
   * when `live()` turned false on the way (the warm-up was overtaken and is abandoned).
   */
  private async eachValue(attrs: readonly string[], live: () => boolean, add: (attr: string, norm: string, id: number) => void): Promise<boolean> {
    for (const attr of attrs) {
      let after: { norm: string; id: number } | undefined;
      for (;;) {
        const rows = await repo.valuesAfter(this.store.db, this.store.dialect, attr, after, WARM_BATCH);
        if (!live()) return false;
        for (const r of rows) add(attr, r.norm, Number(r.entry_id));
        if (rows.length < WARM_BATCH) break;
        const last = rows[rows.length - 1]!;
        after = { norm: last.norm, id: Number(last.entry_id) };
      }
    }
    return true;
  }

  /**
   * Builds the indexes from dir_values and loads entries into the cache. They are installed
   * only when the store's version was the same before and after and nothing cleared the cache
   * meanwhile, so they are exactly the version the cache holds.
   */
  private async warmOnce(): Promise<void> {
    const { db, dialect } = this.store;
    const state = this.state;
    const cache = state.cache;
    const v = await state.readVersion();
    state.noteVersion(v);
    this.again = false;
    const gen = state.generation;
    const live = (): boolean => !this.stopped && gen === state.generation;
    const index = new EqualityIndex();
    if (!(await this.eachValue(HOT_ATTRIBUTES, live, (attr, norm, id) => index.add(attr, norm, id)))) return;
    index.finish();
    const prefixes = new PrefixIndex();
    if (!(await this.eachValue(PREFIX_ATTRIBUTES, live, (attr, norm, id) => prefixes.add(attr, norm, id)))) return;
    prefixes.finish();
    let lastId = 0;
    let all = false;
    for (let loaded = 0; loaded < cache.capacity; ) {
      const want = Math.min(WARM_BATCH, cache.capacity - loaded);
      const rows = await repo.entryRowsAfter(db, dialect, lastId, want);
      if (!live()) return;
      for (const r of rows) {
        const id = Number(r.id);
        if (!cache.has(id)) cache.put(repo.rowToEntry(r));
        lastId = id;
      }
      loaded += rows.length;
      if (rows.length < want) {
        all = true; // the store has no more entries than were loaded
        break;
      }
    }
    if (!all && lastId > 0) {
      // Exactly as many entries as the cache holds, or more?
      const more = await repo.entryRowsAfter(db, dialect, lastId, 1);
      if (!live()) return;
      all = more.length === 0;
    }
    const after = await state.readVersion();
    if (!live()) return;
    if (after !== v) {
      state.noteVersion(after); // changed meanwhile: clears and schedules another round
      return;
    }
    state.install(index, prefixes, all);
  }
}
