import { UsageError } from '../core/index.js';

/**
 * Keys renamed in this release (docs/configuration.md, "Renamed in this release"), still read
 * until the next one: before validation each old key is moved to its new place and a
 * deprecation warning recorded, so the schema knows only the new shape. An old key and its
 * new one given for the same thing is an error: which one was meant cannot be guessed.
 * Delete this file (and its call in load.ts) in the next release. One table walked over the
 * parsed object, rather than a zod preprocess in each area's schema: every rename in one place,
 * found and removed in one go, and the schemas stay free of the old shapes.
 */

interface Rename {
  /** Dotted path of the old key. */
  from: string;
  /** Dotted path of the new key. */
  to: string;
  /**
   * Only these keys of the object at `from` move, into the object at `to`: `from` itself is
   * kept, because its name now holds the group (`directory.ldap: {port}` → `directory.ldap.starttls: {port}`).
   */
  keys?: readonly string[];
  /** Only a boolean at `from` is the old shape (the new one is an object at the same key). */
  ifBoolean?: true;
}

const LISTENER_KEYS = ['enabled', 'host', 'port'] as const;

/** In order: a move that turns a key into an object comes before the moves into that object. */
const RENAMES: readonly Rename[] = [
  // One TLS vocabulary: a protocol's listeners named by their TLS mode.
  { from: 'service.pop3.plain', to: 'service.pop3.starttls' },
  { from: 'service.pop3.tls', to: 'service.pop3.implicit' },
  { from: 'directory.ldap', to: 'directory.ldap.starttls', keys: LISTENER_KEYS },
  { from: 'directory.ldaps', to: 'directory.ldap.implicit' },
  { from: 'clientModule.smtp', to: 'clientModule.smtp.starttls', keys: LISTENER_KEYS },
  { from: 'clientModule.smtps', to: 'clientModule.smtp.implicit' },
  { from: 'clientModule.pop3', to: 'clientModule.pop3.starttls', keys: LISTENER_KEYS },
  { from: 'clientModule.pop3s', to: 'clientModule.pop3.implicit' },
  // The relay's worker and retry settings in the shape mail-in has (config/worker.ts).
  { from: 'service.relay.worker', to: 'service.relay.worker.enabled', ifBoolean: true },
  { from: 'service.relay.concurrency', to: 'service.relay.worker.concurrency' },
  { from: 'service.relay.pollIntervalMs', to: 'service.relay.worker.pollIntervalMs' },
  { from: 'service.relay.leaseMs', to: 'service.relay.worker.leaseMs' },
  { from: 'service.relay.retryScheduleMs', to: 'service.relay.retry.scheduleMs' },
  { from: 'service.relay.maxAgeMs', to: 'service.relay.retry.maxAgeMs' },
  { from: 'service.relay.delayWarnMs', to: 'service.relay.retry.delayWarnMs' },
];

type Mapping = Record<string, unknown>;
const isMapping = (v: unknown): v is Mapping => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The mapping at `path`, created where missing when `create`; undefined where something else stands in the way (the schema reports that). */
function mappingAt(root: Mapping, path: readonly string[], create: boolean): Mapping | undefined {
  let cur = root;
  for (const key of path) {
    if (cur[key] === undefined && create) cur[key] = {};
    const next = cur[key];
    if (!isMapping(next)) return undefined;
    cur = next;
  }
  return cur;
}

/**
 * Moves the old keys of `raw` (a parsed file, modified in place) to their new places and
 * returns one warning per old key found, `source: old: deprecated, now new …`. Throws a
 * UsageError naming both keys where an old key and its new one are both given.
 */
export function moveRenamedKeys(raw: Mapping, source: string): string[] {
  const warnings: string[] = [];
  const conflicts: string[] = [];
  for (const r of RENAMES) {
    const from = r.from.split('.');
    const to = r.to.split('.');
    const oldParent = mappingAt(raw, from.slice(0, -1), false);
    const oldKey = from[from.length - 1]!;
    const value = oldParent?.[oldKey];
    if (!oldParent || value === undefined) continue;
    // What moves: [old path, new path, value] for each key, and how to take it from the old place.
    let moves: Array<[string, string, unknown]>;
    let takeOld: () => void;
    if (r.keys) {
      if (!isMapping(value)) continue;
      const present = r.keys.filter((k) => value[k] !== undefined);
      moves = present.map((k) => [`${r.from}.${k}`, `${r.to}.${k}`, value[k]]);
      takeOld = () => present.forEach((k) => delete value[k]);
    } else {
      if (r.ifBoolean && typeof value !== 'boolean') continue;
      moves = [[r.from, r.to, value]];
      takeOld = () => delete oldParent[oldKey];
    }
    if (moves.length === 0) continue;
    // Something other than a mapping where the new key's parents go: left as it is for the schema to report.
    if (!r.ifBoolean && blocked(raw, to.slice(0, -1))) continue;
    if (valueAt(raw, to) !== undefined) {
      conflicts.push(`${source}: ${moves.map((m) => m[0]).join(', ')} and ${r.to} are given for the same thing: keep only ${r.to}`);
      continue;
    }
    takeOld(); // first: with ifBoolean the old key's name becomes the mapping that holds the new one
    for (const [oldPath, newPath, v] of moves) {
      const path = newPath.split('.');
      mappingAt(raw, path.slice(0, -1), true)![path[path.length - 1]!] = v;
      warnings.push(`${source}: ${oldPath}: deprecated, now ${newPath} (the old key is read until the next release)`);
    }
  }
  if (conflicts.length) throw new UsageError(conflicts.join('\n'));
  return warnings;
}

function blocked(root: Mapping, path: readonly string[]): boolean {
  let cur: unknown = root;
  for (const key of path) {
    cur = (cur as Mapping)[key];
    if (cur === undefined) return false;
    if (!isMapping(cur)) return true;
  }
  return false;
}

function valueAt(root: Mapping, path: readonly string[]): unknown {
  const parent = mappingAt(root, path.slice(0, -1), false);
  return parent?.[path[path.length - 1]!];
}
