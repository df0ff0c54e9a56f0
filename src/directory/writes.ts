import { randomUUID } from 'node:crypto';
import { ConflictError, UsageError } from '../core/index.js';
import { buildAttributes, checkCardinality, type DirEntry, type EntryLimits } from './entry.js';
import type { Freshness } from './freshness.js';
import type { EntryLookup } from './lookup.js';
import type { DirectoryNames } from './naming.js';
import { equalityKey } from './normalise.js';
import * as repo from './repo.js';
import type { DirectoryStore } from './repo.js';

export interface NewEntry {
  /** The RDN value; a random UUID when absent (as the VZD does). */
  uid?: string;
  attributes: Array<{ name: string; value: Buffer | string }>;
}

/** The attributes and certificates an entry is to have (what a modify function returns). */
export interface EntryContent {
  attrs: Record<string, string[]>;
  certs: Buffer[];
}

/**
 * Changes to entries: each in one transaction that also bumps the store's directory version,
 * after which this process's caches are cleared (Freshness.changed).
 */
export class EntryWriter {
  constructor(
    private readonly store: DirectoryStore,
    private readonly state: Freshness,
    private readonly names: DirectoryNames,
    private readonly lookup: EntryLookup,
    private readonly limits: EntryLimits,
  ) {}

  /** Runs `fn` in the caller's transaction (who then calls changed() after COMMIT) or in its own. */
  async write<T>(fn: (ex: repo.Executor) => Promise<T>, ex?: repo.Executor): Promise<T> {
    const dialect = this.store.dialect;
    if (ex) {
      const r = await fn(ex);
      await repo.bumpVersion(ex, dialect);
      return r;
    }
    try {
      return await this.store.db.transaction().execute(async (trx) => {
        const r = await fn(trx);
        await repo.bumpVersion(trx, dialect);
        return r;
      });
    } catch (err) {
      throw conflictFromUnique(err);
    } finally {
      this.state.changed();
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
      const [stored] = await repo.insertEntries(trx, this.store.dialect, [e]);
      return stored!;
    }, ex);
  }

  private async assertFree(ex: repo.Executor, e: DirEntry): Promise<void> {
    const dialect = this.store.dialect;
    if (await repo.entryByKey(ex, dialect, 'uid_norm', repo.normUid(e.uid))) throw new ConflictError(`entry ${this.names.dnOf(e)} exists already`);
    const t = e.attrs.telematikID![0]!;
    const other = await repo.entryByKey(ex, dialect, 'telematik_norm', equalityKey('string', t)!);
    if (other) throw new ConflictError(`telematikID ${t} is already used by ${this.names.dnOf(other)}`);
  }

  async remove(key: string): Promise<DirEntry> {
    const e = await this.lookup.get(key);
    await this.write((trx) => repo.deleteEntry(trx, this.store.dialect, e.id));
    return e;
  }

  /**
   * Read-modify-write of one entry in a transaction (row locked on PostgreSQL). `fn` returns
   * the new attributes and certificates, or null to leave the entry as it is.
   */
  async modify(telematikId: string, fn: (e: DirEntry | undefined) => EntryContent | null, ex?: repo.Executor): Promise<DirEntry | undefined> {
    const dialect = this.store.dialect;
    return this.write(async (trx) => {
      const current = await repo.entryByKey(trx, dialect, 'telematik_norm', equalityKey('string', telematikId)!, true);
      const next = fn(current);
      if (!next) return current;
      checkCardinality(next.attrs, next.certs, this.limits);
      const now = Date.now();
      if (!current) {
        const uid = next.attrs.uid?.[0] ?? randomUUID();
        next.attrs.uid = [uid];
        const e: DirEntry = { id: 0, uid, attrs: next.attrs, certs: next.certs, entryUuid: randomUUID(), createdAt: now, modifiedAt: now };
        const [stored] = await repo.insertEntries(trx, dialect, [e]);
        return stored;
      }
      const updated: DirEntry = { ...current, attrs: { ...next.attrs, uid: [current.uid] }, certs: next.certs, modifiedAt: now };
      delete updated.norm;
      delete updated.answers;
      await repo.updateEntry(trx, dialect, updated);
      return updated;
    }, ex);
  }
}

/** A unique-index violation (a concurrent writer won the race) is a conflict, not a crash. */
function conflictFromUnique(err: unknown): unknown {
  const e = err as { code?: string; message?: string };
  if (e && (e.code === '23505' || e.code === 'SQLITE_CONSTRAINT_UNIQUE')) {
    return new ConflictError(/telematik/.test(e.message ?? '') ? 'that telematikID is already used' : 'that entry exists already');
  }
  return err;
}
