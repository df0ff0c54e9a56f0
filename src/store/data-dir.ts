import { chmodSync, lstatSync, mkdirSync, readdirSync, type Stats } from 'node:fs';
import { join, relative, isAbsolute, sep } from 'node:path';
import { inDataDir, type Config } from '../config/index.js';
import { sqlitePath } from './db.js';

/**
 * The data directory holds every stored message, the password hashes and the keys: nothing in
 * it may be open to other accounts on the host. Everything is created private (folders 0700,
 * files 0600, and `bin/postamt.js` sets a 0077 umask); what an older release left open is
 * tightened at the service's start (makePrivate) and reported by `postamt config check`
 * (findExposedPaths).
 */

/** Permission bits of group and others. */
const OPEN_BITS = 0o077;

/** Creates a folder (and its parents) private to the service user. */
export function mkdirPrivate(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/**
 * Where this configuration keeps data: the data directory, and the SQLite file (with its WAL and
 * shared-memory files) and the blob folder when they lie outside it. A root that is a file is
 * checked alone; a folder with everything below it.
 */
export function dataPaths(config: Config): string[] {
  const roots = [config.dataDir];
  const outside = (p: string) => {
    const rel = relative(config.dataDir, p);
    return rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);
  };
  const db = sqlitePath(config.database.url, config.dataDir);
  if (db && outside(db)) roots.push(db, `${db}-wal`, `${db}-shm`);
  if (config.blobs.backend === 'files' && config.blobs.path) {
    const blobs = inDataDir(config, config.blobs.path);
    if (outside(blobs)) roots.push(blobs);
  }
  return roots;
}

export interface ExposedPath {
  path: string;
  /** The permission bits, e.g. 0o644. */
  mode: number;
}

/**
 * Every path under `roots` (symbolic links are not followed: their own mode means nothing)
 * that group or others have any access to. Roots that do not exist are skipped.
 */
export function findExposedPaths(roots: readonly string[]): ExposedPath[] {
  const found: ExposedPath[] = [];
  walk(roots, (path, st) => {
    if (st.mode & OPEN_BITS) found.push({ path, mode: st.mode & 0o7777 });
  });
  return found;
}

export interface PrivateResult {
  /** Paths whose group/other bits were removed. */
  changed: number;
  /** Paths that could not be changed (another owner): they stay as they were. */
  failed: ExposedPath[];
}

/**
 * Removes group and other bits from every path under `roots` (an upgrade from a release that
 * created them 0644/0755). One walk of the tree: about 0.25 s per 100,000 stored messages with
 * warm caches, the same walk the blob sweep makes at start.
 */
export function makePrivate(roots: readonly string[]): PrivateResult {
  const result: PrivateResult = { changed: 0, failed: [] };
  walk(roots, (path, st) => {
    if (!(st.mode & OPEN_BITS)) return;
    try {
      chmodSync(path, st.mode & 0o7700);
      result.changed++;
    } catch {
      result.failed.push({ path, mode: st.mode & 0o7777 });
    }
  });
  return result;
}

/** Calls `visit` for every root and everything below the folders among them; folders before their contents. */
function walk(roots: readonly string[], visit: (path: string, st: Stats) => void): void {
  const pending = [...new Set(roots)];
  while (pending.length > 0) {
    const path = pending.pop()!;
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch {
      continue; // not there (yet), or gone meanwhile
    }
    if (st.isSymbolicLink()) continue;
    visit(path, st);
    if (!st.isDirectory()) continue;
    let names: string[];
    try {
      names = readdirSync(path);
    } catch {
      continue;
    }
    for (const name of names) pending.push(join(path, name));
  }
}
