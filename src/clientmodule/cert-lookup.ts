import { Client, EqualityFilter } from 'ldapts';
import { X509Certificate, KeyUsagesExtension, KeyUsageFlags } from '@peculiar/x509';
import type { Logger } from '../core/index.js';

/**
 * Finds a KIM address's encryption certificates in the directory (VZD) over LDAP, the way a
 * primary system's client module must: `(mail=<address>)` returning `userCertificate;binary`.
 * Answers are cached (gematik allows 12 h for ENC certificates); misses are cached briefly so a
 * typo'd recipient does not cost one LDAP round trip per message; concurrent lookups of the
 * same address share one search.
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
  timeoutMs: number;
  /** Entries kept in the cache before the oldest are dropped. */
  maxCacheEntries: number;
}

export interface EncryptionCertificate {
  der: Uint8Array;
  subject: string;
  notAfter: Date;
}

export class DirectoryUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DirectoryUnavailableError';
  }
}

interface CacheEntry {
  certs: EncryptionCertificate[];
  expires: number;
}

export class CertificateLookup {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<EncryptionCertificate[]>>();
  private client: Client | null = null;
  private connecting: Promise<Client> | null = null;

  constructor(
    private readonly opts: CertLookupOptions,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The usable RSA encryption certificates of `address` (empty: none in the directory). */
  async encryptionCertificates(address: string): Promise<EncryptionCertificate[]> {
    const key = address.toLowerCase();
    const hit = this.cache.get(key);
    if (hit && hit.expires > this.now()) {
      // Still valid now? A cached certificate may have expired since it was found.
      return hit.certs.filter((c) => c.notAfter.getTime() > this.now());
    }
    const running = this.inFlight.get(key);
    if (running) return running;
    const p = this.search(key).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (c) await c.unbind().catch(() => undefined);
  }

  private async search(address: string): Promise<EncryptionCertificate[]> {
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
    for (const e of entries) {
      const raw = e['userCertificate;binary'] ?? e.userCertificate;
      const values = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
      for (const v of values) {
        if (!Buffer.isBuffer(v)) continue;
        const usable = usableForEncryption(v, this.now());
        if (usable) certs.push(usable);
      }
    }
    this.remember(address, certs);
    return certs;
  }

  private async query(address: string): Promise<Array<Record<string, unknown>>> {
    const client = await this.connection();
    const { searchEntries } = await client.search(this.opts.baseDn, {
      scope: 'sub',
      filter: new EqualityFilter({ attribute: 'mail', value: address }),
      attributes: ['userCertificate;binary'],
      explicitBufferAttributes: ['userCertificate;binary', 'userCertificate'],
      sizeLimit: 10,
      timeLimit: Math.ceil(this.opts.timeoutMs / 1000),
    });
    return searchEntries as Array<Record<string, unknown>>;
  }

  private connection(): Promise<Client> {
    if (this.client?.isConnected) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      const tlsOptions = { ca: this.opts.ca, minVersion: 'TLSv1.2' as const };
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

  private remember(address: string, certs: EncryptionCertificate[]): void {
    const ttl = certs.length ? this.opts.cacheTtlMs : this.opts.negativeCacheTtlMs;
    if (ttl <= 0) return;
    if (this.cache.size >= this.opts.maxCacheEntries) {
      // Map iteration is insertion order: drop the oldest tenth in one go.
      let drop = Math.ceil(this.opts.maxCacheEntries / 10);
      for (const k of this.cache.keys()) {
        if (drop-- <= 0) break;
        this.cache.delete(k);
      }
    }
    this.cache.set(address, { certs, expires: this.now() + ttl });
  }
}

/**
 * An ENC certificate the client module can encrypt for: RSA (ECC recipients need key
 * agreement, not built yet), valid now, and allowed to encipher keys. OSIG certificates
 * published next to it are skipped by their key usage.
 */
export function usableForEncryption(der: Buffer, now: number): EncryptionCertificate | null {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    return null;
  }
  if (cert.notBefore.getTime() > now || cert.notAfter.getTime() <= now) return null;
  const alg = cert.publicKey.algorithm as { name?: string };
  if (!alg.name || !/^RSA/i.test(alg.name)) return null;
  const ku = cert.getExtension(KeyUsagesExtension);
  if (ku && !(ku.usages & KeyUsageFlags.keyEncipherment)) return null;
  return { der: new Uint8Array(der), subject: cert.subject, notAfter: cert.notAfter };
}
