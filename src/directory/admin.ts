import { UsageError } from '../core/index.js';
import { parseFilter, type LdapFilter } from '../wire/ldap/index.js';
import type { DirectoryConfig } from '../config/index.js';
import type { Directory, DirectoryOptions } from './directory.js';
import { ATTRIBUTES, attributeDef } from './attributes.js';
import type { DirEntry } from './entry.js';
import { certificatesFrom, type CertificateInfo } from './certificates.js';
import { certificateDetails, type CertificateDetails } from './certificate-details.js';
import { DirectoryError } from './errors.js';
import { importLdif, type ImportOptions, type ImportResult } from './import.js';

/** The directory options a config section asks for. */
export function directoryOptions(c: DirectoryConfig): DirectoryOptions {
  return { baseDn: c.baseDn, cacheEntries: c.cacheEntries, cacheCheckMs: c.cacheCheckMs, komLeVersion: c.komLeVersion, limits: { maxCertificates: c.maxCertificates } };
}

export interface EntryJson {
  dn: string;
  uid: string;
  telematikID: string;
  entryUUID: string;
  createdAt: string;
  modifiedAt: string;
  /** Canonical attribute name → values (userCertificate is under `certificates`). */
  attributes: Record<string, string[]>;
  certificates: Array<CertificateInfo & { der?: string }>;
}

export interface EntryInputJson {
  uid?: string;
  /** Attribute name (any alias) → one value or a list. */
  attributes: Record<string, string | string[]>;
  /** PEM or base64 DER certificates. */
  certificates?: string[];
}

/**
 * Management in JSON terms, shared by the CLI and the admin HTTP API: listing with an RFC 4515
 * filter string and a paging cursor, get, add, remove, certificates, LDIF import.
 */
export class DirectoryAdmin {
  constructor(
    readonly dir: Directory,
    private readonly importMaxBytes = Number.MAX_SAFE_INTEGER,
  ) {}

  toJson(e: DirEntry, withDer = false): EntryJson {
    const attributes: Record<string, string[]> = {};
    for (const def of ATTRIBUTES) if (def.syntax !== 'binary' && e.attrs[def.name]?.length) attributes[def.name] = e.attrs[def.name]!;
    const infos = this.dir.describeCertificates(e);
    return {
      dn: this.dir.dnOf(e),
      uid: e.uid,
      telematikID: e.attrs.telematikID?.[0] ?? '',
      entryUUID: e.entryUuid,
      createdAt: new Date(e.createdAt).toISOString(),
      modifiedAt: new Date(e.modifiedAt).toISOString(),
      attributes,
      certificates: infos.map((c, k) => (withDer ? { ...c, der: e.certs[k]!.toString('base64') } : c)),
    };
  }

  parseFilterString(filter: string | undefined): LdapFilter {
    if (filter === undefined || filter.trim() === '') return { type: 'present', attribute: 'objectClass' };
    try {
      return parseFilter(filter, { maxDepth: 32 });
    } catch (err) {
      throw new UsageError(`invalid filter: ${(err as Error).message}`);
    }
  }

  async list(q: { filter?: string; limit?: number; after?: string }): Promise<{ entries: EntryJson[]; next: string | null }> {
    const limit = q.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('limit must be 1 to 1000');
    const filter = this.parseFilterString(q.filter);
    const entries: EntryJson[] = [];
    let last: string | undefined;
    let more = false;
    const search = this.dir.search({ baseDn: this.dir.baseDn, scope: 'one', filter, limit: limit + 1, ...(q.after !== undefined ? { after: q.after } : {}) });
    try {
      for await (const hit of search) {
        if (hit.kind !== 'entry') continue;
        if (entries.length === limit) {
          more = true;
          break;
        }
        entries.push(this.toJson(hit.entry));
        last = hit.resumeKey;
      }
    } catch (err) {
      if (err instanceof DirectoryError && err.kind === 'invalidPosition') throw new UsageError('after must be a cursor from an earlier page');
      throw err;
    }
    return { entries, next: more ? (last ?? null) : null };
  }

  async get(key: string, withDer = false): Promise<EntryJson> {
    return this.toJson(await this.dir.get(key), withDer);
  }

  async add(input: EntryInputJson): Promise<EntryJson> {
    if (!input || typeof input !== 'object' || !input.attributes || typeof input.attributes !== 'object') throw new UsageError('expected {"attributes": {...}}');
    const pairs: Array<{ name: string; value: Buffer | string }> = [];
    for (const [name, v] of Object.entries(input.attributes)) {
      if (attributeDef(name.toLowerCase())?.syntax === 'binary') throw new UsageError('give certificates under "certificates"');
      for (const value of Array.isArray(v) ? v : [v]) {
        if (typeof value !== 'string') throw new UsageError(`values of ${name} must be strings`);
        pairs.push({ name, value });
      }
    }
    for (const c of input.certificates ?? []) {
      if (typeof c !== 'string') throw new UsageError('certificates must be PEM or base64 strings');
      for (const der of certificatesFrom(c)) pairs.push({ name: 'userCertificate', value: der });
    }
    const e = await this.dir.add({ ...(input.uid ? { uid: String(input.uid) } : {}), attributes: pairs });
    return this.toJson(e);
  }

  async remove(key: string): Promise<EntryJson> {
    return this.toJson(await this.dir.remove(key));
  }

  async addCertificates(key: string, input: Buffer | string): Promise<Array<{ added: boolean; sha256: string }>> {
    const out = [];
    for (const der of certificatesFrom(input)) out.push(await this.dir.addCertificate(key, der));
    return out;
  }

  removeCertificate(key: string, fingerprint: string): Promise<number> {
    return this.dir.removeCertificate(key, fingerprint);
  }

  async certificates(key: string): Promise<CertificateInfo[]> {
    return this.dir.describeCertificates(await this.dir.get(key));
  }

  /** The entry's certificates decoded (kind, curve, validity, usage; `expiring` within `warnDays`). */
  async certificateDetails(key: string, warnDays = 30): Promise<CertificateDetails[]> {
    return (await this.dir.get(key)).certs.map((der) => certificateDetails(der, { warnDays }));
  }

  import(source: AsyncIterable<Buffer | string>, opts: ImportOptions = {}): Promise<ImportResult> {
    return importLdif(this.dir, source, { maxBytes: this.importMaxBytes, ...opts });
  }
}
