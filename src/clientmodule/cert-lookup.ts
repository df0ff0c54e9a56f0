import { Client, EqualityFilter } from 'ldapts';
import { X509Certificate, KeyUsagesExtension, KeyUsageFlags } from '@peculiar/x509';
import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import { clientTlsProfile, type Logger } from '../core/index.js';
import { ADMISSION_OID, decodeAdmission, tiEciesCurve } from '../crypto/index.js';
import { komLeVersionOf, type KomLeVersionInfo } from './komle-version.js';

/**
 * What the client module needs to know about a KIM address from the directory (VZD), found
 * over LDAP the way a client module must: ONE search `(mail=<address>)` returning
 * `userCertificate;binary`, `telematikID`, `kimData` and `komLeData` of every matching entry.
 * Answers are cached together — for `cacheTtlMs` (gematik allows 12 h for ENC certificates) and
 * never longer than `versionCacheTtlMs` (KOM-LE versions: at most 24 h, A_22340); misses are
 * cached briefly so a typo'd recipient does not cost one LDAP round trip per message; concurrent
 * lookups of the same address share one search.
 */
export interface CertLookupOptions {
  /** ldap://host:port (StartTLS is used when `startTls`) or ldaps://host:port. */
  url: string;
  baseDn: string;
  startTls: boolean;
  /** Trust anchors for the directory's TLS certificate (PEM). */
  ca?: string;
  cacheTtlMs: number;
  negativeCacheTtlMs: number;
  /** The longest a KOM-LE version read from the directory is used (A_22340: at most 24 h). */
  versionCacheTtlMs?: number;
  timeoutMs: number;
  /** Entries kept in the cache before the oldest are dropped. */
  maxCacheEntries: number;
}

export interface EncryptionCertificate {
  der: Uint8Array;
  /** RSA (R2048) or ECC (E256, brainpool): the client module uses ECC ones only with an ECC-capable Konnektor (A_17472). */
  kind: 'rsa' | 'ecc';
  subject: string;
  notAfter: Date;
  /** The Telematik-ID in the certificate's Admission extension (registrationNumber); null: none. */
  telematikId: string | null;
  /** The telematikID of the directory entry it was published in (set by the lookup). */
  entryTelematikId?: string | null;
}

/** One address as the directory describes it. */
export interface DirectoryRecord {
  address: string;
  /** Usable encryption certificates (valid now, RSA and ECC) of every entry found. */
  certificates: EncryptionCertificate[];
  /** The distinct telematikIDs of the entries those certificates came from (more than one: A_20650-05 4003). */
  entryTelematikIds: string[];
  /** The version registered for the address (kimData, komLeData, default 1.0). */
  komLeVersion: KomLeVersionInfo;
}

export class DirectoryUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DirectoryUnavailableError';
  }
}

interface CacheEntry {
  record: DirectoryRecord;
  expires: number;
}

const DAY = 86_400_000;

export class CertificateLookup {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<DirectoryRecord>>();
  private client: Client | null = null;
  private connecting: Promise<Client> | null = null;

  constructor(
    private readonly opts: CertLookupOptions,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The usable encryption certificates of `address`, RSA and ECC (empty: none in the directory). */
  async encryptionCertificates(address: string): Promise<EncryptionCertificate[]> {
    return (await this.lookup(address)).certificates;
  }

  /** Certificates, entries and KOM-LE version of `address`, from the cache or one search. */
  async lookup(address: string): Promise<DirectoryRecord> {
    const key = address.toLowerCase();
    const hit = this.cache.get(key);
    if (hit && hit.expires > this.now()) return this.stillValid(hit.record);
    const running = this.inFlight.get(key);
    if (running) return running;
    const p = this.search(key).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  /** A cached record without the certificates that have expired since it was found. */
  private stillValid(r: DirectoryRecord): DirectoryRecord {
    const now = this.now();
    if (r.certificates.every((c) => c.notAfter.getTime() > now)) return r;
    const certificates = r.certificates.filter((c) => c.notAfter.getTime() > now);
    return { ...r, certificates, entryTelematikIds: entryIds(certificates) };
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (c) await c.unbind().catch(() => undefined);
  }

  private async search(address: string): Promise<DirectoryRecord> {
    let entries: Array<Record<string, unknown>>;
    try {
      entries = await this.query(address);
    } catch (first) {
      // One retry on a fresh connection: an idle connection may have been closed by the server.
      await this.close();
      try {
        entries = await this.query(address);
      } catch (err) {
        await this.close();
        this.logger.warn({ address, err: (err as Error).message, first: (first as Error).message }, 'directory lookup failed');
        throw new DirectoryUnavailableError(`directory ${this.opts.url} cannot be searched: ${(err as Error).message}`);
      }
    }
    const certs: EncryptionCertificate[] = [];
    const kimData: string[] = [];
    const komLeData: string[] = [];
    for (const e of entries) {
      const entryTelematikId = strings(e.telematikID)[0] ?? null;
      kimData.push(...strings(e.kimData));
      komLeData.push(...strings(e.komLeData));
      const raw = e['userCertificate;binary'] ?? e.userCertificate;
      const values = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
      for (const v of values) {
        if (!Buffer.isBuffer(v)) continue;
        const usable = usableForEncryption(v, this.now());
        if (usable) certs.push({ ...usable, entryTelematikId });
      }
    }
    const record: DirectoryRecord = { address, certificates: certs, entryTelematikIds: entryIds(certs), komLeVersion: komLeVersionOf(address, kimData, komLeData) };
    this.remember(address, record);
    return record;
  }

  private async query(address: string): Promise<Array<Record<string, unknown>>> {
    const client = await this.connection();
    const { searchEntries } = await client.search(this.opts.baseDn, {
      scope: 'sub',
      filter: new EqualityFilter({ attribute: 'mail', value: address }),
      attributes: ['userCertificate;binary', 'telematikID', 'kimData', 'komLeData'],
      explicitBufferAttributes: ['userCertificate;binary', 'userCertificate'],
      sizeLimit: 10,
      timeLimit: Math.ceil(this.opts.timeoutMs / 1000),
    });
    return searchEntries as Array<Record<string, unknown>>;
  }

  private connection(): Promise<Client> {
    if (this.client?.isConnected) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      const tlsOptions = { ...clientTlsProfile(), ca: this.opts.ca };
      const client = new Client({
        url: this.opts.url,
        timeout: this.opts.timeoutMs,
        connectTimeout: this.opts.timeoutMs,
        ...(this.opts.url.startsWith('ldaps:') ? { tlsOptions } : {}),
      });
      // Connected before anyone else may use it: ldapts opens a socket per request while a
      // client is not yet connected, so concurrent first lookups would each open one and all
      // but the last would wait for answers on a socket it forgot. StartTLS connects; otherwise
      // an anonymous bind (RFC 4513 section 5.1.1), which is what the searches run as anyway.
      try {
        if (this.opts.startTls && this.opts.url.startsWith('ldap:')) await client.startTLS(tlsOptions);
        else await client.bind('', '');
      } catch (err) {
        await client.unbind().catch(() => undefined);
        throw err;
      }
      this.client = client;
      return client;
    })().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private remember(address: string, record: DirectoryRecord): void {
    // The version travels with the certificates: the entry is never kept longer than it may be.
    const ttl = Math.min(record.certificates.length ? this.opts.cacheTtlMs : this.opts.negativeCacheTtlMs, this.opts.versionCacheTtlMs ?? DAY);
    if (ttl <= 0) return;
    if (this.cache.size >= this.opts.maxCacheEntries) {
      // Map iteration is insertion order: drop the oldest tenth in one go.
      let drop = Math.ceil(this.opts.maxCacheEntries / 10);
      for (const k of this.cache.keys()) {
        if (drop-- <= 0) break;
        this.cache.delete(k);
      }
    }
    this.cache.set(address, { record, expires: this.now() + ttl });
  }
}

function strings(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
}

function entryIds(certs: readonly EncryptionCertificate[]): string[] {
  return [...new Set(certs.map((c) => c.entryTelematikId ?? ''))].filter((t) => t !== '');
}

/**
 * An ENC certificate the client module can encrypt for, valid now: RSA allowed to encipher keys,
 * or ECC on a brainpool curve allowed to agree keys (gematik's E256 ENC certificates; TI-ECIES,
 * A_17220). OSIG certificates published next to them are skipped by their key usage.
 */
export function usableForEncryption(der: Buffer, now: number): EncryptionCertificate | null {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    return null;
  }
  if (cert.notBefore.getTime() > now || cert.notAfter.getTime() <= now) return null;
  const kind = keyKind(der);
  if (!kind) return null;
  const ku = cert.getExtension(KeyUsagesExtension);
  const needed = kind === 'rsa' ? KeyUsageFlags.keyEncipherment : KeyUsageFlags.keyAgreement | KeyUsageFlags.keyEncipherment;
  if (ku && !(ku.usages & needed)) return null;
  return { der: new Uint8Array(der), kind, subject: cert.subject, notAfter: cert.notAfter, telematikId: telematikIdOf(cert) };
}

/** The certificate's key kind by node's key parser (WebCrypto, behind @peculiar/x509, knows no brainpool). */
function keyKind(der: Buffer): 'rsa' | 'ecc' | null {
  let key;
  try {
    key = new NodeX509Certificate(der).publicKey;
  } catch {
    return null;
  }
  if (key.asymmetricKeyType === 'rsa') return 'rsa';
  if (key.asymmetricKeyType === 'ec' && tiEciesCurve(key)) return 'ecc';
  return null;
}

/** The Admission extension's registrationNumber (how gematik's SMC-B and HBA certificates carry the Telematik-ID). */
function telematikIdOf(cert: X509Certificate): string | null {
  const ext = cert.getExtension(ADMISSION_OID);
  if (!ext) return null;
  return decodeAdmission(ext.value)?.telematikId ?? null;
}
