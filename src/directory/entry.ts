import { createHash, X509Certificate } from 'node:crypto';
import { UsageError } from '../core/index.js';
import { ATTRIBUTES, CN, attributeDef, baseName, operationalName, type AttributeDef } from './attributes.js';
import { equalityKey } from './normalise.js';
import { looksLikeCertificate } from './der.js';

/** One VZD entry as the domain sees it. */
export interface DirEntry {
  /** Row id; 0 before it is stored. Also the search order and the paging position. */
  id: number;
  uid: string;
  /** Canonical attribute name → values (userCertificate is in `certs`, cn is derived). */
  attrs: Record<string, string[]>;
  certs: Buffer[];
  entryUuid: string;
  createdAt: number;
  modifiedAt: number;
  /** Memo of normalised values for matching, filled lazily (entries are immutable once built). */
  norm?: Map<string, Array<string | null>>;
  /** Memo of the entry as answers present it (its DN, encoded results per attribute selection); same lifetime rule. */
  answers?: EntryAnswers;
}

export interface EntryAnswers {
  dn?: string;
  /** Per attribute selection of the LDAP edge (ldap-backend.ts): [key, bytes, key, bytes, …]. */
  encoded?: unknown[];
}

export interface EntryLimits {
  /** Longest string value in characters. */
  maxValueLength: number;
  /** Largest certificate in bytes. */
  maxCertificateBytes: number;
  /** Most certificates (userCertificate values) one entry holds (config directory.maxCertificates). */
  maxCertificates: number;
}

export const DEFAULT_LIMITS: EntryLimits = { maxValueLength: 2048, maxCertificateBytes: 16 * 1024, maxCertificates: 50 };

export function telematikIdOf(e: Pick<DirEntry, 'attrs'>): string {
  return e.attrs.telematikID?.[0] ?? '';
}

export function certificateFingerprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

/**
 * Checks that `der` is an X.509 certificate: its DER shape always, a full parse when `deep`
 * (single additions; bulk imports check the shape only, a parse per entry would dominate).
 */
export function checkCertificate(der: Buffer, limits: EntryLimits = DEFAULT_LIMITS, deep = true): Buffer {
  if (der.length > limits.maxCertificateBytes) throw new UsageError(`certificate larger than ${limits.maxCertificateBytes} bytes`);
  if (!looksLikeCertificate(der)) throw new UsageError('userCertificate is not a DER certificate');
  if (deep) {
    try {
      new X509Certificate(der);
    } catch {
      throw new UsageError('userCertificate is not a parsable X.509 certificate');
    }
  }
  return der;
}

/**
 * Builds validated attributes from name/value pairs (LDIF, CLI flags, JSON): known attributes
 * only, values of the right syntax and size, cardinalities respected, duplicate values (by
 * equality) dropped, `cn` accepted when it equals displayName (or stands in for a missing one).
 * objectClass and operational attributes are ignored: the server owns them.
 */
export function buildAttributes(
  input: Array<{ name: string; value: Buffer | string }>,
  limits: EntryLimits = DEFAULT_LIMITS,
  deepCertificateCheck = true,
): { attrs: Record<string, string[]>; certs: Buffer[] } {
  const attrs: Record<string, string[]> = {};
  const keys = new Map<string, Set<string>>();
  const certs: Buffer[] = [];
  const certKeys = new Set<string>();
  const cns: string[] = [];
  for (const { name, value } of input) {
    const { name: lower } = baseName(name);
    if (lower === 'objectclass' || operationalName(lower)) continue;
    const buf = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    if (lower === CN) {
      cns.push(utf8(name, buf, limits));
      continue;
    }
    const def = attributeDef(lower);
    if (!def) throw new UsageError(`unknown attribute "${name}"`);
    if (def.syntax === 'binary') {
      checkCertificate(buf, limits, deepCertificateCheck);
      const fp = certificateFingerprint(buf);
      if (!certKeys.has(fp)) {
        certKeys.add(fp);
        certs.push(Buffer.from(buf));
      }
      continue;
    }
    const text = utf8(name, buf, limits);
    const key = equalityKey(def.syntax, text);
    if (key === null) throw new UsageError(`"${text.slice(0, 64)}" is not a valid ${def.syntax} for ${def.name}`);
    if (key === '') throw new UsageError(`empty value for ${def.name}`);
    let seen = keys.get(def.name);
    if (!seen) keys.set(def.name, (seen = new Set()));
    if (seen.has(key)) continue;
    seen.add(key);
    (attrs[def.name] ??= []).push(def.syntax === 'boolean' ? key : text.trim());
  }
  if (cns.length) {
    const dn = attrs.displayName;
    if (!dn) attrs.displayName = [cns[0]!.trim()];
    const want = equalityKey('string', attrs.displayName![0]!);
    for (const c of cns) if (equalityKey('string', c) !== want) throw new UsageError('cn must equal displayName (cn is displayName under another name)');
  }
  checkCardinality(attrs, certs, limits);
  return { attrs, certs };
}

export function checkCardinality(attrs: Record<string, string[]>, certs: Buffer[], limits: EntryLimits = DEFAULT_LIMITS): void {
  for (const def of ATTRIBUTES) {
    const n = def.syntax === 'binary' ? certs.length : (attrs[def.name]?.length ?? 0);
    if (def.name === 'uid') continue; // comes from the DN
    // The certificates' number is configurable; every other attribute's is the table's.
    const max = def.syntax === 'binary' ? limits.maxCertificates : def.max;
    if (n < def.min) throw new UsageError(`${def.name} is required`);
    if (n > max) throw new UsageError(`${def.name} allows at most ${max} value${max === 1 ? '' : 's'} (got ${n})`);
  }
}

function utf8(name: string, buf: Buffer, limits: EntryLimits): string {
  const s = buf.toString('utf8');
  if (!Buffer.from(s, 'utf8').equals(buf)) throw new UsageError(`the value of ${name} is not valid UTF-8`);
  if (s.length > limits.maxValueLength) throw new UsageError(`the value of ${name} is longer than ${limits.maxValueLength} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(s)) throw new UsageError(`the value of ${name} contains control characters`);
  return s;
}

/** Name/value pairs of an entry in presentation order (for LDIF export and JSON). */
export function entryPairs(e: DirEntry): Array<{ def: AttributeDef; value: string | Buffer }> {
  const out: Array<{ def: AttributeDef; value: string | Buffer }> = [];
  for (const def of ATTRIBUTES) {
    if (def.syntax === 'binary') for (const c of e.certs) out.push({ def, value: c });
    else for (const v of e.attrs[def.name] ?? []) out.push({ def, value: v });
  }
  return out;
}
