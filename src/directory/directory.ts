import type { Kysely } from 'kysely';
import type { Database, Dialect } from '../store/index.js';
import { describeCertificates, EntryCertificates, type CertificateInfo } from './certificates.js';
import { DEFAULT_LIMITS, type DirEntry, type EntryLimits } from './entry.js';
import { Freshness } from './freshness.js';
import { EntryLookup } from './lookup.js';
import { DirectoryNames } from './naming.js';
import * as repo from './repo.js';
import { DirectorySearch, type SearchHit, type SearchParams } from './search.js';
import { Warmer } from './warming.js';
import { EntryWriter, type EntryContent, type NewEntry } from './writes.js';

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

/**
 * The VZD directory as one object: entries in the store, searches, management and the account
 * feed. It only composes the parts, one job each: naming.ts (DNs of the naming context),
 * freshness.ts (what is held in memory and whether it is current), warming.ts (filling the
 * warm indexes and the cache), lookup.ts (entries by key), search.ts (filters), writes.ts
 * (entries in transactions), certificates.ts. Everything here speaks domain terms (refusals are
 * DirectoryErrors); LDAP specifics live in ldap-backend.ts.
 */
export class Directory {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** The base DN as configured. */
  readonly baseDn: string;
  readonly komLeVersion: string;
  private readonly store: repo.DirectoryStore;
  private readonly names: DirectoryNames;
  private readonly freshness: Freshness;
  private readonly lookup: EntryLookup;
  private readonly searcher: DirectorySearch;
  private readonly writer: EntryWriter;
  private readonly certificates: EntryCertificates;
  private warmer: Warmer | undefined;

  constructor(store: repo.DirectoryStore, options: DirectoryOptions) {
    this.db = store.db;
    this.dialect = store.dialect;
    this.store = { db: store.db, dialect: store.dialect };
    this.names = new DirectoryNames(options.baseDn);
    this.baseDn = options.baseDn;
    this.komLeVersion = options.komLeVersion ?? '1.5';
    const limits: EntryLimits = { ...DEFAULT_LIMITS, ...options.limits };
    this.freshness = new Freshness(store, options.cacheEntries ?? 20_000, options.cacheCheckMs ?? 1000);
    this.lookup = new EntryLookup(store, this.freshness, this.names);
    this.searcher = new DirectorySearch(store, this.freshness, this.names, this.lookup);
    this.writer = new EntryWriter(store, this.freshness, this.names, this.lookup, limits);
    this.certificates = new EntryCertificates(this.lookup, this.writer, this.names, limits);
  }

  // ---- naming

  dnOf(e: Pick<DirEntry, 'uid' | 'answers'>): string {
    return this.names.dnOf(e);
  }

  /** The uid of a DN `uid=…,<base>`, or undefined for any other DN; throws DirectoryError(invalidDn) on a bad DN. */
  uidOfDn(dn: string): string | undefined {
    return this.names.uidOfDn(dn);
  }

  /** See DirectoryNames.valueBelowBase. */
  valueBelowBase(dn: string, attribute: string): string | undefined {
    return this.names.valueBelowBase(dn, attribute);
  }

  isBaseDn(dn: string): boolean {
    return this.names.isBaseDn(dn);
  }

  /** The base DN's first RDN (the container entry's naming attribute). */
  get baseRdn(): { type: string; value: string } {
    return this.names.baseRdn;
  }

  // ---- freshness and warming

  /** Tells every Directory on this database in this process that the data changed (after COMMIT). */
  changed(): void {
    this.freshness.changed();
  }

  /**
   * Keeps the warm indexes and the entry cache filled, rebuilt in the background after every
   * change (warming.ts). For servers; one-shot commands do not call it.
   */
  keepWarm(): void {
    if (this.warmer || this.freshness.cache.capacity <= 0) return;
    this.warmer = new Warmer(this.store, this.freshness);
    this.warmer.start();
  }

  /** Stops warming and waits for a warm-up in progress (before the store closes). */
  async stopWarm(): Promise<void> {
    await this.warmer?.stop();
  }

  /** Resolves when the index is built for what the store holds now (tests, benchmarks). */
  async warmed(): Promise<void> {
    await this.freshness.fresh();
    await this.warmer?.warmed();
  }

  /** True when equality searches on the hot attributes are answered from memory right now. */
  get isWarm(): boolean {
    return this.freshness.index !== undefined && !this.freshness.changeUnseen;
  }

  // ---- lookups and searches

  /** Finds an entry by Telematik-ID, uid, or DN (uid=…,base). Returns undefined when none. */
  find(key: string): Promise<DirEntry | undefined> {
    return this.lookup.find(key);
  }

  get(key: string): Promise<DirEntry> {
    return this.lookup.get(key);
  }

  count(): Promise<number> {
    return repo.countEntries(this.db, this.dialect);
  }

  /** See DirectorySearch.search. */
  search(p: SearchParams): AsyncGenerator<SearchHit> {
    return this.searcher.search(p);
  }

  /** See DirectorySearch.searchNow. */
  searchNow(p: Omit<SearchParams, 'signal'>): SearchHit[] | undefined {
    return this.searcher.searchNow(p);
  }

  // ---- writes

  /** Runs `fn` in the caller's transaction (who then calls changed() after COMMIT) or in its own. */
  write<T>(fn: (ex: repo.Executor) => Promise<T>, ex?: repo.Executor): Promise<T> {
    return this.writer.write(fn, ex);
  }

  /** Validates input into an entry (not stored). */
  buildEntry(input: NewEntry, now = Date.now(), deepCertificateCheck = true): DirEntry {
    return this.writer.buildEntry(input, now, deepCertificateCheck);
  }

  /** Adds one entry; telematikID and uid must be new. */
  add(input: NewEntry, ex?: repo.Executor): Promise<DirEntry> {
    return this.writer.add(input, ex);
  }

  remove(key: string): Promise<DirEntry> {
    return this.writer.remove(key);
  }

  /** See EntryWriter.modify. */
  modify(telematikId: string, fn: (e: DirEntry | undefined) => EntryContent | null, ex?: repo.Executor): Promise<DirEntry | undefined> {
    return this.writer.modify(telematikId, fn, ex);
  }

  // ---- certificates

  addCertificate(key: string, der: Buffer): Promise<{ added: boolean; sha256: string }> {
    return this.certificates.add(key, der);
  }

  /** Removes the certificates whose SHA-256 fingerprint starts with `fingerprint` (hex, at least 8 digits). */
  removeCertificate(key: string, fingerprint: string): Promise<number> {
    return this.certificates.remove(key, fingerprint);
  }

  describeCertificates(e: DirEntry): CertificateInfo[] {
    return describeCertificates(e);
  }
}
