import { randomUUID, X509Certificate } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, Dialect } from '../store/index.js';
import { ConflictError, NotFoundError, UsageError } from '../core/index.js';
import type { LdapFilter } from '../wire/ldap/index.js';
import { parseDn, normaliseDn, escapeDnValue, DnSyntaxError, type Dn } from '../wire/ldap/index.js';
import { LdapResultError, type SearchScope } from '../ldap/backend.js';
import { buildAttributes, checkCardinality, checkCertificate, certificateFingerprint, DEFAULT_LIMITS, type DirEntry, type EntryLimits } from './entry.js';
import { compileFilter, type Matchable } from './match.js';
import { planFilter, candidateSql, type IndexTerm } from './plan.js';
import { EntryCache } from './cache.js';
import { EqualityIndex, HOT_ATTRIBUTES } from './equality-index.js';
import { PREFIX_ATTRIBUTES, PrefixIndex } from './prefix-index.js';
import { equalityKey } from './normalise.js';
import * as repo from './repo.js';
import { baseMatchable, entryMatchable } from './views.js';

export interface DirectoryOptions {
  /** The naming context, e.g. dc=data,dc=vzd; entries are uid=…,<baseDn>. */
  baseDn: string;
  /** Entries kept in memory (0 = no cache). */
  cacheEntries?: number;
  /**
   * How often (ms) the store's directory version is read to notice changes made by other
   * nodes or processes. Changes through this process are seen at once; others' at most this
   * much later (plus one query).
   */
  cacheCheckMs?: number;
  /** The version written into komLeData by the account feed. */
  komLeVersion?: string;
  limits?: Partial<EntryLimits>;
}

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

export interface NewEntry {
  /** The RDN value; a random UUID when absent (as the VZD does). */
  uid?: string;
  attributes: Array<{ name: string; value: Buffer | string }>;
}

export interface CertificateInfo {
  sha256: string;
  subject: string;
  issuer: string;
  serialNumber: string;
  notAfter: string;
}

/** Directory instances sharing one database in this process learn of each other's writes at once. */
const localGenerations = new WeakMap<object, { gen: number }>();

const SCAN_BATCH = 256;
/** Most entries searchNow answers with (larger size limits go the batched way, with backpressure). */
const NOW_MAX = 5000;
/** Most values a prefix may match for searchNow (the candidates are sorted by id first). */
const NOW_MAX_PREFIX = 20_000;
const NO_IDS: readonly number[] = [];
/** Rows per query while warming: short enough that searches in between are not held up for long. */
const WARM_BATCH = 2000;
/** Warming takes at most this share of the time after changes (it runs again only after 9× its own duration). */
const WARM_DUTY = 0.1;

interface Warming {
  stopped: boolean;
  timer: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
  /** The cache was cleared while a warm-up ran: run again when it ends. */
  again: boolean;
  lastMs: number;
  lastEnd: number;
  waiters: Array<() => void>;
}

/**
 * The VZD directory: entries in the store, searches (plan, scan, match), management and the
 * account feed. Everything here speaks domain terms; LDAP specifics live in ldap-backend.ts.
 */
export class Directory {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** The base DN as configured. */
  readonly baseDn: string;
  readonly komLeVersion: string;
  readonly limits: EntryLimits;
  private readonly baseParsed: Dn;
  private readonly baseNorm: string;
  private readonly cache: EntryCache;
  private readonly checkMs: number;
  private readonly shared: { gen: number };
  private seenGen: number;
  /** Rises whenever the cache is cleared; a read started before may not fill the cache. */
  private cacheGen = 0;
  private version = -1;
  private checkedAt = -Infinity;
  private checking: Promise<void> | undefined;
  /** The last base DN string seen to name the container (clients send the same one again and again). */
  private lastBaseString: string | undefined;
  private baseMatch: Matchable | undefined;
  /** The hot attributes' equality keys in memory; undefined while (re)building after a change. */
  private index: EqualityIndex | undefined;
  /** The prefix attributes' values, sorted; installed and dropped together with `index`. */
  private prefixIndex: PrefixIndex | undefined;
  private warming: Warming | undefined;

  constructor(store: { db: Kysely<Database>; dialect: Dialect }, options: DirectoryOptions) {
    this.db = store.db;
    this.dialect = store.dialect;
    try {
      this.baseParsed = parseDn(options.baseDn);
    } catch (err) {
      throw new UsageError(`directory.baseDn "${options.baseDn}": ${(err as Error).message}`);
    }
    if (this.baseParsed.length === 0) throw new UsageError('directory.baseDn must not be empty');
    this.baseDn = options.baseDn;
    this.baseNorm = normaliseDn(this.baseParsed);
    this.cache = new EntryCache(options.cacheEntries ?? 20_000);
    this.checkMs = options.cacheCheckMs ?? 1000;
    this.komLeVersion = options.komLeVersion ?? '1.5';
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    let shared = localGenerations.get(store.db);
    if (!shared) localGenerations.set(store.db, (shared = { gen: 0 }));
    this.shared = shared;
    this.seenGen = shared.gen;
  }

  dnOf(e: Pick<DirEntry, 'uid' | 'answers'>): string {
    if (e.answers?.dn !== undefined) return e.answers.dn;
    const dn = `uid=${escapeDnValue(e.uid)},${this.baseDn}`;
    // Only stored entries (in the cache, immutable) carry the memo.
    if ('id' in e && (e as DirEntry).id > 0) ((e as DirEntry).answers ??= {}).dn = dn;
    return dn;
  }

  // ---------------------------------------------------------------- cache freshness

  /** Tells every Directory on this database in this process that the data changed (after COMMIT). */
  changed(): void {
    this.shared.gen++;
    this.clearCache();
  }

  private clearCache(): void {
    this.cache.clear();
    this.cacheGen++;
    this.index = undefined;
    this.prefixIndex = undefined;
    if (this.warming) this.scheduleWarm();
  }

  /** A version read from the store: anything cached under another version goes. */
  private noteVersion(v: number): void {
    if (v === this.version) return;
    this.version = v;
    this.clearCache();
  }

  /** Clears the cache if this process or (checked every cacheCheckMs) another node changed the data. */
  private async fresh(): Promise<void> {
    if (this.shared.gen !== this.seenGen) {
      this.seenGen = this.shared.gen;
      this.clearCache();
    }
    if (Date.now() - this.checkedAt < this.checkMs) return;
    this.checking ??= (async () => {
      const started = Date.now();
      this.noteVersion(await repo.readVersion(this.db, this.dialect));
      this.checkedAt = started;
    })().finally(() => (this.checking = undefined));
    await this.checking;
  }

  // ---------------------------------------------------------------- warming (servers)

  /**
   * Keeps the equality index of the hot attributes and the entry cache (up to cacheEntries,
   * in id order) filled, rebuilding both after every change in the background; until a
   * rebuild is done, searches take the SQL path. For servers; one-shot commands do not call it.
   */
  keepWarm(): void {
    if (this.warming || this.cache.capacity <= 0) return;
    this.warming = { stopped: false, timer: undefined, running: undefined, again: false, lastMs: 0, lastEnd: 0, waiters: [] };
    this.scheduleWarm();
  }

  /** Stops warming and waits for a warm-up in progress (before the store closes). */
  async stopWarm(): Promise<void> {
    const w = this.warming;
    if (!w) return;
    w.stopped = true;
    clearTimeout(w.timer);
    await w.running;
    for (const r of w.waiters.splice(0)) r();
  }

  /** Resolves when the index is built for what the store holds now (tests, benchmarks). */
  async warmed(): Promise<void> {
    await this.fresh();
    const w = this.warming;
    if (!w || w.stopped || this.index) return;
    await new Promise<void>((resolve) => w.waiters.push(resolve));
  }

  /** True when equality searches on the hot attributes are answered from memory right now. */
  get isWarm(): boolean {
    return this.index !== undefined && this.shared.gen === this.seenGen;
  }

  private scheduleWarm(): void {
    const w = this.warming!;
    if (w.stopped || w.timer) return;
    if (w.running) {
      w.again = true;
      return;
    }
    const delay = Math.max(0, w.lastEnd + ((1 - WARM_DUTY) / WARM_DUTY) * w.lastMs - Date.now());
    w.timer = setTimeout(() => {
      w.timer = undefined;
      const started = Date.now();
      w.running = this.warmOnce(w)
        .catch(() => {
          // the store went away or failed: the SQL path still answers; try again later
          w.again = true;
        })
        .finally(() => {
          w.running = undefined;
          w.lastEnd = Date.now();
          w.lastMs = Math.max(w.lastEnd - started, 100);
          if (this.index || w.stopped) for (const r of w.waiters.splice(0)) r();
          if (w.again && !w.stopped) {
            w.again = false;
            this.scheduleWarm();
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
        const rows = await repo.valuesAfter(this.db, this.dialect, attr, after, WARM_BATCH);
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
   * Builds the index from dir_values and loads entries into the cache. The index is installed
   * only when the store's version was the same before and after and nothing cleared the cache
   * meanwhile, so it is exactly the version the cache holds.
   */
  private async warmOnce(w: Warming): Promise<void> {
    this.noteVersion(await repo.readVersion(this.db, this.dialect));
    w.again = false;
    const v = this.version;
    const gen = this.cacheGen;
    const live = (): boolean => !w.stopped && gen === this.cacheGen;
    const index = new EqualityIndex();
    if (!(await this.eachValue(HOT_ATTRIBUTES, live, (attr, norm, id) => index.add(attr, norm, id)))) return;
    index.finish();
    const prefixes = new PrefixIndex();
    if (!(await this.eachValue(PREFIX_ATTRIBUTES, live, (attr, norm, id) => prefixes.add(attr, norm, id)))) return;
    prefixes.finish();
    let lastId = 0;
    let all = false;
    for (let loaded = 0; loaded < this.cache.capacity; ) {
      const want = Math.min(WARM_BATCH, this.cache.capacity - loaded);
      const rows = await repo.entryRowsAfter(this.db, this.dialect, lastId, want);
      if (!live()) return;
      for (const r of rows) {
        const id = Number(r.id);
        if (!this.cache.has(id)) this.cache.put(repo.rowToEntry(r));
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
      const more = await repo.entryRowsAfter(this.db, this.dialect, lastId, 1);
      if (!live()) return;
      all = more.length === 0;
    }
    const after = await repo.readVersion(this.db, this.dialect);
    if (!live()) return;
    if (after !== v) {
      this.noteVersion(after); // changed meanwhile: clears and schedules another round
      return;
    }
    this.index = index;
    this.prefixIndex = prefixes;
    this.cache.complete = all;
  }

  // ---------------------------------------------------------------- reads

  private async loadByIds(ids: number[]): Promise<DirEntry[]> {
    const out = new Map<number, DirEntry>();
    const missing: number[] = [];
    for (const id of ids) {
      const hit = this.cache.get(id);
      if (hit) out.set(id, hit);
      else missing.push(id);
    }
    if (missing.length) {
      const gen = this.cacheGen;
      for (const e of await repo.entriesByIds(this.db, this.dialect, missing)) {
        out.set(e.id, e);
        if (gen === this.cacheGen) this.cache.put(e);
      }
    }
    return ids.map((id) => out.get(id)).filter((e): e is DirEntry => e !== undefined);
  }

  private async byUid(uid: string): Promise<DirEntry | undefined> {
    const fromIndex = this.index?.ids('uid', repo.normUid(uid));
    if (fromIndex) return (await this.loadByIds(fromIndex.slice(0, 1)))[0];
    const key = 'uid\0' + repo.normUid(uid);
    const cached = this.cache.lookup(key);
    if (cached) return (await this.loadByIds(cached))[0];
    const gen = this.cacheGen;
    const e = await repo.entryByKey(this.db, this.dialect, 'uid_norm', repo.normUid(uid));
    if (e && gen === this.cacheGen) {
      this.cache.put(e);
      this.cache.putLookup(key, [e.id]);
    }
    return e;
  }

  /**
   * Finds an entry by Telematik-ID, uid, or DN (uid=…,base). Returns undefined when none.
   */
  async find(key: string): Promise<DirEntry | undefined> {
    await this.fresh();
    const k = key.trim();
    if (k.includes('=')) {
      const uid = this.uidOfDn(k);
      return uid === undefined ? undefined : this.byUid(uid);
    }
    const tkey = equalityKey('string', k)!;
    const fromIndex = this.index?.ids('telematikID', tkey);
    const byTelematik = fromIndex ? (await this.loadByIds(fromIndex.slice(0, 1)))[0] : await repo.entryByKey(this.db, this.dialect, 'telematik_norm', tkey);
    return byTelematik ?? this.byUid(k);
  }

  async get(key: string): Promise<DirEntry> {
    const e = await this.find(key);
    if (!e) throw new NotFoundError(`no directory entry ${key}`);
    return e;
  }

  /** The uid of a DN `uid=…,<base>`, or undefined for any other DN; throws UsageError on a bad DN. */
  uidOfDn(dn: string): string | undefined {
    let parsed: Dn;
    try {
      parsed = parseDn(dn);
    } catch (err) {
      throw new UsageError(`"${dn}" is not a DN: ${(err as Error).message}`);
    }
    if (parsed.length !== this.baseParsed.length + 1 || normaliseDn(parsed.slice(1)) !== this.baseNorm) return undefined;
    const rdn = parsed[0]!;
    return rdn.length === 1 && rdn[0]!.type.toLowerCase() === 'uid' ? rdn[0]!.value : undefined;
  }

  isBaseDn(dn: string): boolean {
    try {
      return normaliseDn(parseDn(dn)) === this.baseNorm;
    } catch {
      return false;
    }
  }

  async count(): Promise<number> {
    const rows = await repo.run<{ n: number }>(this.db, this.dialect, 'select count(*) as n from dir_entries');
    return Number(rows[0]?.n ?? 0);
  }

  /** Where a search starts: the container, an entry, or an LdapResultError. */
  private async resolveBase(dn: string): Promise<{ kind: 'base' } | { kind: 'entry'; entry: DirEntry }> {
    if (dn === this.lastBaseString) return { kind: 'base' };
    let parsed: Dn;
    try {
      parsed = parseDn(dn);
    } catch (err) {
      if (err instanceof DnSyntaxError) throw new LdapResultError('invalidDNSyntax', `invalid base DN: ${err.message}`);
      throw err;
    }
    const n = this.baseParsed.length;
    if (parsed.length === n && normaliseDn(parsed) === this.baseNorm) {
      this.lastBaseString = dn;
      return { kind: 'base' };
    }
    if (parsed.length <= n || normaliseDn(parsed.slice(-n)) !== this.baseNorm) throw new LdapResultError('noSuchObject', 'no such entry', '');
    const rdn = parsed[parsed.length - n - 1]!;
    const entry = rdn.length === 1 && rdn[0]!.type.toLowerCase() === 'uid' ? await this.byUid(rdn[0]!.value) : undefined;
    if (!entry) throw new LdapResultError('noSuchObject', 'no such entry', this.baseDn);
    if (parsed.length > n + 1) throw new LdapResultError('noSuchObject', 'no such entry', this.dnOf(entry));
    return { kind: 'entry', entry };
  }

  private matchable(e: DirEntry): Matchable {
    return entryMatchable(
      e,
      () => this.dnOf(e),
      () => [e.uid, ...this.baseParsed.flatMap((r) => r.map((a) => a.value))],
    );
  }

  baseMatchable(): Matchable {
    const a = this.baseParsed[0]![0]!;
    return (this.baseMatch ??= baseMatchable(a.type, a.value, this.baseDn, this.baseParsed.flatMap((r) => r.map((x) => x.value))));
  }

  /** The base DN's first RDN (the container entry's naming attribute). */
  get baseRdn(): { type: string; value: string } {
    return this.baseParsed[0]![0]!;
  }

  /**
   * Yields matching hits in a stable order (container first, then entries by id) with a
   * resumeKey each; stops after `limit` hits or when `signal` aborts.
   */
  async *search(p: SearchParams): AsyncGenerator<SearchHit> {
    if (p.limit <= 0) return;
    await this.fresh();
    const target = await this.resolveBase(p.baseDn);
    const pred = compileFilter(p.filter);
    let after = -1;
    if (p.after !== undefined) {
      if (!/^\d{1,15}$/.test(p.after)) throw new LdapResultError('unwillingToPerform', 'invalid paging position');
      after = Number(p.after);
    }
    if (target.kind === 'entry') {
      const e = target.entry;
      if (p.scope !== 'one' && e.id > after && pred(this.matchable(e)) === true) yield { kind: 'entry', dn: this.dnOf(e), resumeKey: String(e.id), entry: e };
      return;
    }
    let left = p.limit;
    if (p.scope !== 'one' && after < 0 && pred(this.baseMatchable()) === true) {
      yield { kind: 'base', dn: this.baseDn, resumeKey: '0' };
      if (--left === 0) return;
    }
    if (p.scope === 'base') return;
    const plan = planFilter(p.filter);
    const source = plan.kind === 'scan' ? this.scan(Math.max(after, 0), p.signal) : this.indexed(plan.term, Math.max(after, 0), left, p.signal);
    for await (const e of source) {
      if (p.signal?.aborted) return;
      if (pred(this.matchable(e)) !== true) continue;
      yield { kind: 'entry', dn: this.dnOf(e), resumeKey: String(e.id), entry: e };
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
    const index = this.index;
    if (index === undefined || this.shared.gen !== this.seenGen || p.after !== undefined || p.limit > NOW_MAX || p.baseDn !== this.lastBaseString) return undefined;
    if (Date.now() - this.checkedAt >= this.checkMs) {
      void this.fresh().catch(() => undefined); // the next searches find it done (or take the SQL path meanwhile)
      return undefined;
    }
    const plan = planFilter(p.filter);
    if (plan.kind !== 'index') return undefined;
    const term = plan.term;
    let ids: ArrayLike<number> | undefined;
    if (term.op === 'none') ids = NO_IDS;
    else if (term.op === 'eq') ids = index.ids(term.attr, term.key);
    else if (term.op === 'prefix') ids = this.prefixIndex?.idsWithPrefix(term.attr, term.lo, NOW_MAX_PREFIX);
    if (ids === undefined) return undefined;
    const out: SearchHit[] = [];
    if (p.limit <= 0) return out;
    const pred = compileFilter(p.filter);
    let left = p.limit;
    if (p.scope !== 'one' && pred(this.baseMatchable()) === true) {
      out.push({ kind: 'base', dn: this.baseDn, resumeKey: '0' });
      if (--left === 0) return out;
    }
    if (p.scope === 'base') return out;
    // A bare equality found in the index matches by construction: the index holds exactly the
    // equality keys the filter compares (repo.valueRows, the same version as the cache).
    const exact = term.op === 'eq' && p.filter.type === 'equality';
    for (let k = 0; k < ids.length; k++) {
      const e = this.cache.get(ids[k]!);
      if (e === undefined) return undefined; // not cached: the SQL path loads it
      if (!exact && pred(this.matchable(e)) !== true) continue;
      out.push({ kind: 'entry', dn: this.dnOf(e), resumeKey: String(e.id), entry: e });
      if (--left === 0) break;
    }
    return out;
  }

  /** All entries after `afterId` in id order, in batches; cached ones reused, none added. */
  private async *scan(afterId: number, signal?: AbortSignal): AsyncGenerator<DirEntry> {
    let last = afterId;
    for (;;) {
      if (signal?.aborted) return;
      const rows = await repo.run<Parameters<typeof repo.rowToEntry>[0]>(
        this.db,
        this.dialect,
        `select ${repo.ENTRY_COLUMNS} from dir_entries where id > ? order by id limit ${SCAN_BATCH}`,
        [last],
      );
      for (const r of rows) {
        const id = Number(r.id);
        yield this.cache.get(id) ?? repo.rowToEntry(r);
        last = id;
      }
      if (rows.length < SCAN_BATCH) return;
    }
  }

  /** Candidates from the index, in id order, in batches. */
  private async *indexed(term: IndexTerm, afterId: number, limit: number, signal?: AbortSignal): AsyncGenerator<DirEntry> {
    if (term.op === 'none') return;
    const batch = Math.min(1000, Math.max(limit + 1, 16));
    if (term.op === 'eq') {
      // The hot path (mail=…, telematikID=…): ids from the index in memory, from the lookup
      // cache, or ids and rows in one query.
      const fromIndex = this.index?.ids(term.attr, term.key);
      if (fromIndex) {
        let from = 0;
        while (from < fromIndex.length && fromIndex[from]! <= afterId) from++;
        for (let k = from; k < fromIndex.length; k += batch) {
          if (signal?.aborted) return;
          yield* await this.loadByIds(fromIndex.slice(k, k + batch));
        }
        return;
      }
      const lookupKey = afterId === 0 ? `${term.attr}\0${term.key}` : undefined;
      const cached = lookupKey ? this.cache.lookup(lookupKey) : undefined;
      if (cached) {
        yield* await this.loadByIds(cached);
        return;
      }
      let last = afterId;
      for (;;) {
        if (signal?.aborted) return;
        const gen = this.cacheGen;
        const rows = await repo.run<Parameters<typeof repo.rowToEntry>[0]>(
          this.db,
          this.dialect,
          `select ${repo.ENTRY_COLUMNS_E} from dir_values v join dir_entries e on e.id = v.entry_id where v.attr = ? and v.norm = ? and v.entry_id > ? order by v.entry_id limit ${batch}`,
          [term.attr, term.key, last],
        );
        const entries = rows.map((r) => this.cache.get(Number(r.id)) ?? repo.rowToEntry(r));
        if (gen === this.cacheGen) {
          for (const e of entries) this.cache.put(e);
          if (lookupKey && last === afterId && rows.length < batch) this.cache.putLookup(lookupKey, entries.map((e) => e.id));
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
      const rows = await repo.run<{ entry_id: number }>(this.db, this.dialect, q.text, [...q.params, last]);
      const ids = rows.map((r) => Number(r.entry_id));
      yield* await this.loadByIds(ids);
      if (ids.length < batch) return;
      last = ids[ids.length - 1]!;
    }
  }

  // ---------------------------------------------------------------- writes

  /** Runs `fn` in the caller's transaction (who then calls changed() after COMMIT) or in its own. */
  async write<T>(fn: (ex: repo.Executor) => Promise<T>, ex?: repo.Executor): Promise<T> {
    if (ex) {
      const r = await fn(ex);
      await repo.bumpVersion(ex, this.dialect);
      return r;
    }
    try {
      return await this.db.transaction().execute(async (trx) => {
        const r = await fn(trx);
        await repo.bumpVersion(trx, this.dialect);
        return r;
      });
    } catch (err) {
      throw conflictFromUnique(err);
    } finally {
      this.changed();
    }
  }

  /** Validates input into an entry (not stored). */
  buildEntry(input: NewEntry, now = Date.now(), deepCertificateCheck = true): DirEntry {
    const { attrs, certs } = buildAttributes(input.attributes, this.limits, deepCertificateCheck);
    const given = attrs.uid?.[0];
    const uid = (input.uid ?? given ?? randomUUID()).trim();
    if (!uid) throw new UsageError('uid must not be empty');
    if (given !== undefined && repo.normUid(given) !== repo.normUid(uid)) throw new UsageError(`the uid attribute "${given}" differs from the DN's uid "${uid}"`);
    attrs.uid = [uid];
    return { id: 0, uid, attrs, certs, entryUuid: randomUUID(), createdAt: now, modifiedAt: now };
  }

  /** Adds one entry; telematikID and uid must be new. */
  async add(input: NewEntry, ex?: repo.Executor): Promise<DirEntry> {
    const e = this.buildEntry(input);
    return this.write(async (trx) => {
      await this.assertFree(trx, e);
      const [stored] = await repo.insertEntries(trx, this.dialect, [e]);
      return stored!;
    }, ex);
  }

  private async assertFree(ex: repo.Executor, e: DirEntry): Promise<void> {
    if (await repo.entryByKey(ex, this.dialect, 'uid_norm', repo.normUid(e.uid))) throw new ConflictError(`entry ${this.dnOf(e)} exists already`);
    const t = e.attrs.telematikID![0]!;
    const other = await repo.entryByKey(ex, this.dialect, 'telematik_norm', equalityKey('string', t)!);
    if (other) throw new ConflictError(`telematikID ${t} is already used by ${this.dnOf(other)}`);
  }

  async remove(key: string): Promise<DirEntry> {
    const e = await this.get(key);
    await this.write((trx) => repo.deleteEntry(trx, this.dialect, e.id));
    return e;
  }

  /**
   * Read-modify-write of one entry in a transaction (row locked on PostgreSQL). `fn` returns
   * the new attributes and certificates, or null to leave the entry as it is.
   */
  async modify(
    telematikId: string,
    fn: (e: DirEntry | undefined) => { attrs: Record<string, string[]>; certs: Buffer[] } | null,
    ex?: repo.Executor,
  ): Promise<DirEntry | undefined> {
    return this.write(async (trx) => {
      const current = await repo.entryByKey(trx, this.dialect, 'telematik_norm', equalityKey('string', telematikId)!, true);
      const next = fn(current);
      if (!next) return current;
      checkCardinality(next.attrs, next.certs);
      const now = Date.now();
      if (!current) {
        const uid = next.attrs.uid?.[0] ?? randomUUID();
        next.attrs.uid = [uid];
        const e: DirEntry = { id: 0, uid, attrs: next.attrs, certs: next.certs, entryUuid: randomUUID(), createdAt: now, modifiedAt: now };
        const [stored] = await repo.insertEntries(trx, this.dialect, [e]);
        return stored;
      }
      const updated: DirEntry = { ...current, attrs: { ...next.attrs, uid: [current.uid] }, certs: next.certs, modifiedAt: now };
      delete updated.norm;
      delete updated.answers;
      await repo.updateEntry(trx, this.dialect, updated);
      return updated;
    }, ex);
  }

  // ---------------------------------------------------------------- certificates

  async addCertificate(key: string, der: Buffer): Promise<{ added: boolean; sha256: string }> {
    checkCertificate(der, this.limits);
    const e = await this.get(key);
    const fp = certificateFingerprint(der);
    let added = false;
    await this.modify(e.attrs.telematikID![0]!, (cur) => {
      if (!cur) throw new NotFoundError(`no directory entry ${key}`);
      if (cur.certs.some((c) => certificateFingerprint(c) === fp)) return null;
      if (cur.certs.length >= 50) throw new UsageError('an entry holds at most 50 certificates');
      added = true;
      return { attrs: cur.attrs, certs: [...cur.certs, der] };
    });
    return { added, sha256: fp };
  }

  /** Removes the certificates whose SHA-256 fingerprint starts with `fingerprint` (hex, at least 8 digits). */
  async removeCertificate(key: string, fingerprint: string): Promise<number> {
    const prefix = fingerprint.toLowerCase().replace(/:/g, '');
    if (!/^[0-9a-f]{8,64}$/.test(prefix)) throw new UsageError('give at least 8 hex digits of the certificate\'s SHA-256 fingerprint');
    const e = await this.get(key);
    let removed = 0;
    await this.modify(e.attrs.telematikID![0]!, (cur) => {
      if (!cur) throw new NotFoundError(`no directory entry ${key}`);
      const keep = cur.certs.filter((c) => !certificateFingerprint(c).startsWith(prefix));
      removed = cur.certs.length - keep.length;
      if (removed === 0) throw new NotFoundError(`no certificate ${fingerprint} in ${this.dnOf(cur)}`);
      return { attrs: cur.attrs, certs: keep };
    });
    return removed;
  }

  describeCertificates(e: DirEntry): CertificateInfo[] {
    return e.certs.map((der) => {
      const info: CertificateInfo = { sha256: certificateFingerprint(der), subject: '', issuer: '', serialNumber: '', notAfter: '' };
      try {
        const x = new X509Certificate(der);
        info.subject = x.subject.replace(/\n/g, ', ');
        info.issuer = x.issuer.replace(/\n/g, ', ');
        info.serialNumber = x.serialNumber;
        info.notAfter = new Date(x.validTo).toISOString();
      } catch {
        // stored bytes were checked on the way in; an unparsable one is listed by fingerprint only
      }
      return info;
    });
  }
}

/** A unique-index violation (a concurrent writer won the race) is a conflict, not a crash. */
export function conflictFromUnique(err: unknown): unknown {
  const e = err as { code?: string; message?: string };
  if (e && (e.code === '23505' || e.code === 'SQLITE_CONSTRAINT_UNIQUE')) {
    return new ConflictError(/telematik/.test(e.message ?? '') ? 'that telematikID is already used' : 'that entry exists already');
  }
  return err;
}
