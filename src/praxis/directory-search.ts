import { Client } from 'ldapts';
import { clientTlsProfile } from '../core/index.js';
import { escapeFilterValue } from '../wire/ldap/index.js';

/**
 * The directory search a primary system offers (gemSpec_VZD over LDAP): name, place, profession,
 * Telematik-ID or free text. Every value goes into the filter escaped (RFC 4515), so `*)(mail=*`
 * is a name to look for, never filter syntax. Results are bounded by `maxResults`.
 */
export interface DirectorySearchOptions {
  url: string;
  baseDn: string;
  startTls: boolean;
  ca?: string[];
  maxResults: number;
  timeoutMs: number;
}

export interface DirectoryQuery {
  q?: string;
  name?: string;
  place?: string;
  profession?: string;
  telematikId?: string;
}

export interface DirectoryHit {
  displayName: string;
  mail: string[];
  telematikId: string;
  place: string;
  professionOID: string[];
  specialization: string[];
  /** The KIM versions the entry announces (kimData / komLeData). */
  kimVersions: string[];
}

export class DirectoryQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DirectoryQueryError';
  }
}

const MAX_VALUE = 128;
const ATTRIBUTES = ['displayName', 'mail', 'telematikID', 'l', 'localityName', 'professionOID', 'specialization', 'kimData', 'komLeData'];

const esc = (v: string): string => escapeFilterValue(Buffer.from(v, 'utf8'));

/** The LDAP filter for a query (exported for tests); refuses an empty or oversized one. */
export function directoryFilter(query: DirectoryQuery): string {
  const parts: string[] = [];
  const field = (name: keyof DirectoryQuery): string | undefined => {
    const v = query[name]?.trim();
    if (v === undefined || v === '') return undefined;
    if (v.length > MAX_VALUE) throw new DirectoryQueryError(`${name}: at most ${MAX_VALUE} characters`);
    return v;
  };
  const q = field('q');
  if (q !== undefined) {
    if (q.length < 2) throw new DirectoryQueryError('q: at least 2 characters');
    const e = esc(q);
    parts.push(`(|(displayName=*${e}*)(mail=*${e}*)(l=*${e}*)(telematikID=${e}))`);
  }
  const name = field('name');
  if (name !== undefined) parts.push(`(displayName=*${esc(name)}*)`);
  const place = field('place');
  if (place !== undefined) parts.push(`(l=*${esc(place)}*)`);
  const profession = field('profession');
  if (profession !== undefined) parts.push(`(professionOID=${esc(profession)})`);
  const telematikId = field('telematikId');
  if (telematikId !== undefined) parts.push(`(telematikID=${esc(telematikId)})`);
  if (parts.length === 0) throw new DirectoryQueryError('give at least one of q, name, place, profession, telematikId');
  return parts.length === 1 ? parts[0]! : `(&${parts.join('')})`;
}

/**
 * The versions in kimData ("mail,version[,…]") and komLeData ("version,mail") values: the
 * comma-separated parts that look like a version (1.5, 1.5+), each once — the addresses are in `mail`.
 */
export function kimVersionsOf(values: string[]): string[] {
  return [...new Set(values.flatMap((v) => v.split(',').map((x) => x.trim())).filter((x) => /^\d+(\.\d+)+\+?$/.test(x)))];
}

const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);
const one = (v: unknown): string => list(v)[0] ?? '';

export class DirectorySearch {
  constructor(private readonly opts: DirectorySearchOptions) {}

  async search(query: DirectoryQuery): Promise<{ entries: DirectoryHit[]; truncated: boolean }> {
    const filter = directoryFilter(query);
    const tlsOptions = { ...clientTlsProfile(), ...(this.opts.ca?.length ? { ca: this.opts.ca } : {}) };
    const client = new Client({ url: this.opts.url, timeout: this.opts.timeoutMs, connectTimeout: this.opts.timeoutMs, ...(this.opts.url.startsWith('ldaps:') ? { tlsOptions } : {}) });
    try {
      if (this.opts.startTls && this.opts.url.startsWith('ldap:')) await client.startTLS(tlsOptions);
      let truncated = false;
      let entries: Array<Record<string, unknown>>;
      try {
        ({ searchEntries: entries } = await client.search(this.opts.baseDn, { scope: 'sub', filter, attributes: ATTRIBUTES, sizeLimit: this.opts.maxResults + 1, timeLimit: Math.ceil(this.opts.timeoutMs / 1000) }));
      } catch (err) {
        // The server stops at the size limit: what came so far is the answer, marked truncated.
        if ((err as { code?: number }).code !== 4) throw err;
        entries = [];
        truncated = true;
      }
      if (entries.length > this.opts.maxResults) {
        entries = entries.slice(0, this.opts.maxResults);
        truncated = true;
      }
      return {
        truncated,
        entries: entries.map((e) => ({
          displayName: one(e.displayName),
          mail: list(e.mail),
          telematikId: one(e.telematikID),
          place: one(e.l ?? e.localityName),
          professionOID: list(e.professionOID),
          specialization: list(e.specialization),
          kimVersions: kimVersionsOf([...list(e.kimData), ...list(e.komLeData)]),
        })),
      };
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }
}
