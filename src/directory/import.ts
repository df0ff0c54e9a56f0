import { readLdif, type LdifRecord } from '../wire/ldif/index.js';
import { PostamtError } from '../core/index.js';
import type { Directory } from './directory.js';
import type { DirEntry } from './entry.js';
import { equalityKey } from './normalise.js';
import * as repo from './repo.js';

export interface ImportOptions {
  /** Replace entries whose uid exists already (otherwise they are rejected). */
  replace?: boolean;
  /** Apply the valid entries even if some are rejected (otherwise nothing is applied). */
  skipInvalid?: boolean;
  /** Called every `progressEvery` entries and at the end. */
  onProgress?(p: ImportProgress): void;
  progressEvery?: number;
  /** Most rejections kept for the report (all are counted). */
  maxReported?: number;
  /** Largest input accepted, in bytes (for request bodies). */
  maxBytes?: number;
}

export interface ImportProgress {
  bytes: number;
  records: number;
  rejected: number;
}

export interface Rejection {
  line: number;
  dn?: string;
  reason: string;
}

export interface ImportResult {
  /** Whether the transaction was committed. */
  applied: boolean;
  added: number;
  replaced: number;
  rejectedCount: number;
  rejected: Rejection[];
  bytes: number;
  ms: number;
}

const BATCH = 500;

class Rollback extends Error {}

/**
 * Imports LDIF in ONE transaction: every record is validated (syntax, DN under the base, known
 * attributes, cardinalities, certificates, uid and telematikID unique in the file and the
 * store) and batches are written as they fill. When any record is rejected, writing stops,
 * reading goes on to report every rejection with its line number, and the transaction is
 * rolled back — unless skipInvalid is set, which commits the valid ones.
 */
export async function importLdif(dir: Directory, source: AsyncIterable<Buffer | string>, opts: ImportOptions = {}): Promise<ImportResult> {
  const started = Date.now();
  const every = opts.progressEvery ?? 5000;
  const maxReported = opts.maxReported ?? 1000;
  const result: ImportResult = { applied: false, added: 0, replaced: 0, rejectedCount: 0, rejected: [], bytes: 0, ms: 0 };
  let records = 0;
  const reject = (r: Rejection): void => {
    result.rejectedCount++;
    if (result.rejected.length < maxReported) result.rejected.push(r);
  };
  const counted = async function* (): AsyncGenerator<Buffer> {
    for await (const c of source) {
      const b = typeof c === 'string' ? Buffer.from(c, 'utf8') : c;
      result.bytes += b.length;
      if (opts.maxBytes !== undefined && result.bytes > opts.maxBytes) throw new PostamtError('too-large', `the LDIF is larger than ${opts.maxBytes} bytes`);
      yield b;
    }
  };
  const seenUid = new Map<string, number>();
  const seenTid = new Map<string, number>();
  const canWrite = (): boolean => result.rejectedCount === 0 || opts.skipInvalid === true;

  try {
    await dir.write(async (trx) => {
      let batch: Array<{ line: number; entry: DirEntry }> = [];
      const flush = async (): Promise<void> => {
        const items = batch;
        batch = [];
        if (!items.length) return;
        const byUid = await repo.entriesWithKeys(trx, dir.dialect, 'uid_norm', items.map((i) => repo.normUid(i.entry.uid)));
        const byTid = await repo.entriesWithKeys(trx, dir.dialect, 'telematik_norm', items.map((i) => tidKey(i.entry)));
        const inserts: DirEntry[] = [];
        const updates: DirEntry[] = [];
        for (const { line, entry } of items) {
          const sameUid = byUid.get(repo.normUid(entry.uid));
          const sameTid = byTid.get(tidKey(entry));
          if (sameUid && !opts.replace) {
            reject({ line, dn: dir.dnOf(entry), reason: 'the entry exists already (use replace to overwrite it)' });
            continue;
          }
          if (sameTid && (!sameUid || sameTid.id !== sameUid.id)) {
            reject({ line, dn: dir.dnOf(entry), reason: `telematikID ${entry.attrs.telematikID![0]} is already used by ${dir.dnOf(sameTid)}` });
            continue;
          }
          if (sameUid) updates.push({ ...entry, id: sameUid.id, entryUuid: sameUid.entry_uuid, createdAt: sameUid.created_at });
          else inserts.push(entry);
        }
        if (!canWrite()) return;
        await repo.insertEntries(trx, dir.dialect, inserts);
        for (const u of updates) await repo.updateEntry(trx, dir.dialect, u);
        result.added += inserts.length;
        result.replaced += updates.length;
      };

      for await (const rec of readLdif(counted())) {
        records++;
        const entry = toEntry(dir, rec, reject);
        if (entry) {
          const uidKey = repo.normUid(entry.uid);
          const tid = tidKey(entry);
          const firstUid = seenUid.get(uidKey);
          const firstTid = seenTid.get(tid);
          if (firstUid !== undefined) reject({ line: rec.line, dn: dir.dnOf(entry), reason: `the same DN as the entry at line ${firstUid}` });
          else if (firstTid !== undefined) reject({ line: rec.line, dn: dir.dnOf(entry), reason: `telematikID ${entry.attrs.telematikID![0]} is also in the entry at line ${firstTid}` });
          else {
            seenUid.set(uidKey, rec.line);
            seenTid.set(tid, rec.line);
            batch.push({ line: rec.line, entry });
          }
        }
        if (batch.length >= BATCH) await flush();
        if (opts.onProgress && records % every === 0) opts.onProgress({ bytes: result.bytes, records, rejected: result.rejectedCount });
      }
      await flush();
      if (!canWrite()) throw new Rollback();
    });
    result.applied = true;
  } catch (err) {
    if (!(err instanceof Rollback)) throw err;
  }
  opts.onProgress?.({ bytes: result.bytes, records, rejected: result.rejectedCount });
  // Store conflicts are found per batch, file-level ones as read: report in file order.
  result.rejected.sort((a, b) => a.line - b.line);
  result.ms = Date.now() - started;
  return result;
}

function tidKey(e: DirEntry): string {
  return equalityKey('string', e.attrs.telematikID![0]!)!;
}

function toEntry(dir: Directory, rec: LdifRecord, reject: (r: Rejection) => void): DirEntry | undefined {
  if (rec.kind === 'error') {
    reject({ line: rec.line, ...(rec.dn !== undefined ? { dn: rec.dn } : {}), reason: rec.reason });
    return undefined;
  }
  try {
    const uid = dir.uidOfDn(rec.dn);
    if (uid === undefined) {
      if (dir.isBaseDn(rec.dn)) return undefined; // the container itself: nothing to store
      reject({ line: rec.line, dn: rec.dn, reason: `the DN must be uid=…,${dir.baseDn}` });
      return undefined;
    }
    return dir.buildEntry({ uid, attributes: rec.attributes }, Date.now(), false);
  } catch (err) {
    reject({ line: rec.line, dn: rec.dn, reason: (err as Error).message });
    return undefined;
  }
}
