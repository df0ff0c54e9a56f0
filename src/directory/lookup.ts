import { NotFoundError } from '../core/index.js';
import type { DirEntry } from './entry.js';
import type { Freshness } from './freshness.js';
import type { DirectoryNames } from './naming.js';
import { equalityKey } from './normalise.js';
import * as repo from './repo.js';
import type { DirectoryStore } from './repo.js';

/**
 * Entries by id, uid, Telematik-ID or DN: from the warm index and the cache where they can
 * answer, from the store otherwise (filling the cache unless it was cleared meanwhile).
 */
export class EntryLookup {
  constructor(
    private readonly store: DirectoryStore,
    private readonly state: Freshness,
    private readonly names: DirectoryNames,
  ) {}

  /** The entries of `ids` that exist, in the order of `ids`. */
  async byIds(ids: readonly number[]): Promise<DirEntry[]> {
    const cache = this.state.cache;
    const out = new Map<number, DirEntry>();
    const missing: number[] = [];
    for (const id of ids) {
      const hit = cache.get(id);
      if (hit) out.set(id, hit);
      else missing.push(id);
    }
    if (missing.length) {
      const gen = this.state.generation;
      for (const e of await repo.entriesByIds(this.store.db, this.store.dialect, missing)) {
        out.set(e.id, e);
        if (gen === this.state.generation) cache.put(e);
      }
    }
    return ids.map((id) => out.get(id)).filter((e): e is DirEntry => e !== undefined);
  }

  async byUid(uid: string): Promise<DirEntry | undefined> {
    const fromIndex = this.state.index?.ids('uid', repo.normUid(uid));
    if (fromIndex) return (await this.byIds(fromIndex.slice(0, 1)))[0];
    const key = 'uid\0' + repo.normUid(uid);
    const cache = this.state.cache;
    const cached = cache.lookup(key);
    if (cached) return (await this.byIds(cached))[0];
    const gen = this.state.generation;
    const e = await repo.entryByKey(this.store.db, this.store.dialect, 'uid_norm', repo.normUid(uid));
    if (e && gen === this.state.generation) {
      cache.put(e);
      cache.putLookup(key, [e.id]);
    }
    return e;
  }

  /** Finds an entry by Telematik-ID, uid, or DN (uid=…,base). Returns undefined when none. */
  async find(key: string): Promise<DirEntry | undefined> {
    await this.state.fresh();
    const k = key.trim();
    if (k.includes('=')) {
      const uid = this.names.uidOfDn(k);
      return uid === undefined ? undefined : this.byUid(uid);
    }
    const tkey = equalityKey('string', k)!;
    const fromIndex = this.state.index?.ids('telematikID', tkey);
    const byTelematik = fromIndex ? (await this.byIds(fromIndex.slice(0, 1)))[0] : await repo.entryByKey(this.store.db, this.store.dialect, 'telematik_norm', tkey);
    return byTelematik ?? this.byUid(k);
  }

  async get(key: string): Promise<DirEntry> {
    const e = await this.find(key);
    if (!e) throw new NotFoundError(`no directory entry ${key}`);
    return e;
  }
}
