import type { LdapFilter } from '../wire/ldap/index.js';
import type { DirEntry } from './entry.js';
import { DirectoryError } from './errors.js';
import type { Freshness } from './freshness.js';
import type { EntryLookup } from './lookup.js';
import { compileFilter } from './match.js';
import type { DirectoryNames } from './naming.js';
import { planFilter, type IndexTerm } from './plan.js';
import * as repo from './repo.js';
import type { DirectoryStore } from './repo.js';
import { candidateIds, candidateSql, entryRowsWithKey } from './repo-search.js';

export type SearchScope = 'base' | 'one' | 'sub';

export interface SearchParams {
  baseDn: string;
  scope: SearchScope;
  filter: LdapFilter;
  /** Most hits to yield. */
  limit: number;
  /** A resumeKey of an earlier hit: continue after it. */
  after?: string;
  signal?: AbortSignal;
}

export type SearchHit = { kind: 'base'; dn: string; resumeKey: string } | { kind: 'entry'; dn: string; resumeKey: string; entry: DirEntry };

const SCAN_BATCH = 256;
/** Most entries searchNow answers with (larger size limits go the batched way, with backpressure). */
const NOW_MAX = 5000;
/** Most values a prefix may match for searchNow (the candidates are sorted by id first). */
const NOW_MAX_PREFIX = 20_000;
const NO_IDS: readonly number[] = [];

/**
 * Searches: where the base is, which entries can match (plan.ts: the warm index, the lookup
 * cache or the store's dir_values; else a scan in id order), each candidate evaluated against
 * the whole filter, hits in a stable order with a resume position.
 */
export class DirectorySearch {
  /** The last base DN string seen to name the container (clients send the same one again and again). */
  private lastBaseString: string | undefined;

  constructor(
    private readonly store: DirectoryStore,
    private readonly state: Freshness,
    private readonly names: DirectoryNames,
    private readonly lookup: EntryLookup,
  ) {}

  /** Where a search starts: the container or an entry; a DirectoryError when neither. */
  private async resolveBase(dn: string): Promise<{ kind: 'base' } | { kind: 'entry'; entry: DirEntry }> {
    if (dn === this.lastBaseString) return { kind: 'base' };
    const place = this.names.place(dn);
    if (place.kind === 'base') {
      this.lastBaseString = dn;
      return place;
    }
    if (place.kind === 'outside') throw new DirectoryError('noSuchEntry', 'no such entry', '');
    const entry = place.uid !== undefined ? await this.lookup.byUid(place.uid) : undefined;
    if (!entry) throw new DirectoryError('noSuchEntry', 'no such entry', this.names.baseDn);
    if (place.deeper) throw new DirectoryError('noSuchEntry', 'no such entry', this.names.dnOf(entry));
    return { kind: 'entry', entry };
  }

  /**
   * Yields matching hits in a stable order (container first, then entries by id) with a
   * resumeKey each; stops after `limit` hits or when `signal` aborts.
   */
  async *search(p: SearchParams): AsyncGenerator<SearchHit> {
    if (p.limit <= 0) return;
    await this.state.fresh();
    const target = await this.resolveBase(p.baseDn);
    const names = this.names;
    const pred = compileFilter(p.filter);
    let after = -1;
    if (p.after !== undefined) {
      if (!/^\d{1,15}$/.test(p.after)) throw new DirectoryError('invalidPosition', 'invalid paging position');
      after = Number(p.after);
    }
    if (target.kind === 'entry') {
      const e = target.entry;
      if (p.scope !== 'one' && e.id > after && pred(names.matchable(e)) === true) yield { kind: 'entry', dn: names.dnOf(e), resumeKey: String(e.id), entry: e };
      return;
    }
    let left = p.limit;
    if (p.scope !== 'one' && after < 0 && pred(names.baseMatchable()) === true) {
      yield { kind: 'base', dn: names.baseDn, resumeKey: '0' };
      if (--left === 0) return;
    }
    if (p.scope === 'base') return;
    const plan = planFilter(p.filter);
    const source = plan.kind === 'scan' ? this.scan(Math.max(after, 0), p.signal) : this.indexed(plan.term, Math.max(after, 0), left, p.signal);
    for await (const e of source) {
      if (p.signal?.aborted) return;
      if (pred(names.matchable(e)) !== true) continue;
      yield { kind: 'entry', dn: names.dnOf(e), resumeKey: String(e.id), entry: e };
      if (--left === 0) return;
    }
  }

  /**
   * search() answered at once from memory, or undefined when that needs a query: the warm
   * indexes are installed and current (no change seen in this process, the version check not
   * due), the base is the container, the filter's plan is one equality term on a hot
   * attribute, one prefix term on a prefix attribute (at most NOW_MAX_PREFIX values), or can
   * match nothing; at most NOW_MAX hits; every candidate looked at is cached. Gives exactly
   * the hits search() would give then, in the same order.
   */
  searchNow(p: Omit<SearchParams, 'signal'>): SearchHit[] | undefined {
    const state = this.state;
    const index = state.index;
    if (index === undefined || state.changeUnseen || p.after !== undefined || p.limit > NOW_MAX || p.baseDn !== this.lastBaseString) return undefined;
    if (state.checkDue) {
      void state.fresh().catch(() => undefined); // the next searches find it done (or take the SQL path meanwhile)
      return undefined;
    }
    const plan = planFilter(p.filter);
    if (plan.kind !== 'index') return undefined;
    const term = plan.term;
    let ids: ArrayLike<number> | undefined;
    if (term.op === 'none') ids = NO_IDS;
    else if (term.op === 'eq') ids = index.ids(term.attr, term.key);
    else if (term.op === 'prefix') ids = state.prefixIndex?.idsWithPrefix(term.attr, term.lo, NOW_MAX_PREFIX);
    if (ids === undefined) return undefined;
    const out: SearchHit[] = [];
    if (p.limit <= 0) return out;
    const names = this.names;
    const pred = compileFilter(p.filter);
    let left = p.limit;
    if (p.scope !== 'one' && pred(names.baseMatchable()) === true) {
      out.push({ kind: 'base', dn: names.baseDn, resumeKey: '0' });
      if (--left === 0) return out;
    }
    if (p.scope === 'base') return out;
    // A bare equality found in the index matches by construction: the index holds exactly the
    // equality keys the filter compares (repo.valueRows, the same version as the cache).
    const exact = term.op === 'eq' && p.filter.type === 'equality';
    const cache = state.cache;
    for (let k = 0; k < ids.length; k++) {
      const e = cache.get(ids[k]!);
      if (e === undefined) return undefined; // not cached: the SQL path loads it
      if (!exact && pred(names.matchable(e)) !== true) continue;
      out.push({ kind: 'entry', dn: names.dnOf(e), resumeKey: String(e.id), entry: e });
      if (--left === 0) break;
    }
    return out;
  }

  /** All entries after `afterId` in id order, in batches; cached ones reused, none added. */
  private async *scan(afterId: number, signal?: AbortSignal): AsyncGenerator<DirEntry> {
    const { db, dialect } = this.store;
    const cache = this.state.cache;
    let last = afterId;
    for (;;) {
      if (signal?.aborted) return;
      const rows = await repo.entryRowsAfter(db, dialect, last, SCAN_BATCH);
      for (const r of rows) {
        const id = Number(r.id);
        yield cache.get(id) ?? repo.rowToEntry(r);
        last = id;
      }
      if (rows.length < SCAN_BATCH) return;
    }
  }

  /** Candidates from the index, in id order, in batches. */
  private async *indexed(term: IndexTerm, afterId: number, limit: number, signal?: AbortSignal): AsyncGenerator<DirEntry> {
    if (term.op === 'none') return;
    const { db, dialect } = this.store;
    const state = this.state;
    const batch = Math.min(1000, Math.max(limit + 1, 16));
    if (term.op === 'eq') {
      // The hot path (mail=…, telematikID=…): ids from the index in memory, from the lookup
      // cache, or ids and rows in one query.
      const fromIndex = state.index?.ids(term.attr, term.key);
      if (fromIndex) {
        let from = 0;
        while (from < fromIndex.length && fromIndex[from]! <= afterId) from++;
        for (let k = from; k < fromIndex.length; k += batch) {
          if (signal?.aborted) return;
          yield* await this.lookup.byIds(fromIndex.slice(k, k + batch));
        }
        return;
      }
      const cache = state.cache;
      const lookupKey = afterId === 0 ? `${term.attr}\0${term.key}` : undefined;
      const cached = lookupKey ? cache.lookup(lookupKey) : undefined;
      if (cached) {
        yield* await this.lookup.byIds(cached);
        return;
      }
      let last = afterId;
      for (;;) {
        if (signal?.aborted) return;
        const gen = state.generation;
        const rows = await entryRowsWithKey(db, dialect, term.attr, term.key, last, batch);
        const entries = rows.map((r) => cache.get(Number(r.id)) ?? repo.rowToEntry(r));
        if (gen === state.generation) {
          for (const e of entries) cache.put(e);
          if (lookupKey && last === afterId && rows.length < batch) cache.putLookup(lookupKey, entries.map((e) => e.id));
        }
        yield* entries;
        if (rows.length < batch) return;
        last = entries[entries.length - 1]!.id;
      }
    }
    const q = candidateSql(term, batch);
    let last = afterId;
    for (;;) {
      if (signal?.aborted) return;
      const ids = await candidateIds(db, dialect, q, last);
      yield* await this.lookup.byIds(ids);
      if (ids.length < batch) return;
      last = ids[ids.length - 1]!;
    }
  }
}
