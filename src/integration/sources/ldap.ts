import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { clientTlsProfile } from '../../core/tls-profile.js';
import { Client, InvalidCredentialsError, type Entry } from 'ldapts';
import { escapeDnValue, escapeFilterValue } from '../../wire/ldap/index.js';
import type { IntegrationUser, UserSource } from '../types.js';

export interface LdapSourceOptions {
  name: string;
  priority: number;
  url: string;
  startTls: boolean;
  /** PEM text of the CA to trust (already read). */
  ca?: string;
  rejectUnauthorized: boolean;
  bindDn?: string;
  bindPassword?: string;
  baseDn: string;
  scope: 'base' | 'one' | 'sub';
  filter: string;
  userNameAttribute: string;
  fullNameAttribute: string;
  emailAttributes: string[];
  userDnTemplate?: string;
  pageSize: number;
  timeoutMs: number;
}

export function readCa(path: string | undefined): string | undefined {
  return path ? readFileSync(path, 'utf8') : undefined;
}

/** An attribute's values, whatever case the server spelled its name in. */
function values(entry: Entry, attribute: string): string[] {
  const want = attribute.toLowerCase();
  for (const [k, v] of Object.entries(entry)) {
    if (k.toLowerCase() !== want) continue;
    const list = Array.isArray(v) ? v : [v];
    return list.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x))).filter((x) => x.length > 0);
  }
  return [];
}

/**
 * Users from an LDAP directory (Active Directory, OpenLDAP, Postamt's own VZD). Listing is a
 * paged search (RFC 2696) consumed page by page; a size or time limit the server imposes is
 * an error, never a short list. Authentication looks the user up (unknown: null), then binds
 * as the entry's DN, or as `userDnTemplate` with `{user}` filled in, with the password.
 */
export class LdapSource implements UserSource {
  readonly type = 'ldap';
  readonly name: string;
  readonly priority: number;

  constructor(private readonly opts: LdapSourceOptions) {
    this.name = opts.name;
    this.priority = opts.priority;
  }

  private tlsOptions(): ConnectionOptions {
    return { ...clientTlsProfile(), rejectUnauthorized: this.opts.rejectUnauthorized, ...(this.opts.ca ? { ca: [this.opts.ca] } : {}) };
  }

  private async connect(asSearcher: boolean): Promise<Client> {
    const client = new Client({
      url: this.opts.url,
      timeout: this.opts.timeoutMs,
      connectTimeout: this.opts.timeoutMs,
      // Only for ldaps://: given to an ldap:// client, ldapts would speak TLS at once instead of StartTLS.
      ...(this.opts.url.startsWith('ldaps:') ? { tlsOptions: this.tlsOptions() } : {}),
      strictDN: false,
    });
    try {
      if (this.opts.startTls) await client.startTLS(this.tlsOptions());
      if (asSearcher && this.opts.bindDn) await client.bind(this.opts.bindDn, this.opts.bindPassword ?? '');
      return client;
    } catch (err) {
      await client.unbind().catch(() => undefined);
      throw err;
    }
  }

  private toUser(entry: Entry): IntegrationUser | undefined {
    const userName = values(entry, this.opts.userNameAttribute)[0];
    if (!userName) return undefined;
    const fullName = values(entry, this.opts.fullNameAttribute)[0];
    const emails = [...new Set(this.opts.emailAttributes.flatMap((a) => values(entry, a)))];
    return {
      userName,
      distinguishedName: entry.dn,
      ...(fullName ? { fullName } : {}),
      ...(emails.length ? { emailAddresses: emails } : {}),
    };
  }

  async *list(signal?: AbortSignal): AsyncIterable<IntegrationUser> {
    const client = await this.connect(true);
    try {
      const attributes = [this.opts.userNameAttribute, this.opts.fullNameAttribute, ...this.opts.emailAttributes];
      const pages = client.searchPaginated(this.opts.baseDn, {
        scope: this.opts.scope,
        filter: this.opts.filter,
        attributes,
        paged: { pageSize: this.opts.pageSize },
      });
      for await (const page of pages) {
        signal?.throwIfAborted();
        // Entries without the user-name attribute are not users (e.g. organisational entries).
        for (const e of page.searchEntries) {
          const u = this.toUser(e);
          if (u) yield u;
        }
      }
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  async authenticate(user: string, password: string): Promise<boolean | null> {
    const client = await this.connect(true);
    let dn: string;
    try {
      const filter = `(&${this.opts.filter}(${this.opts.userNameAttribute}=${escapeFilterValue(Buffer.from(user, 'utf8'))}))`;
      const res = await client.search(this.opts.baseDn, { scope: this.opts.scope, filter, attributes: ['1.1'], sizeLimit: 2 });
      if (res.searchEntries.length === 0) return null;
      // Two entries with one user name: refusing is the only answer that cannot be wrong.
      if (res.searchEntries.length > 1) return false;
      dn = this.opts.userDnTemplate ? this.opts.userDnTemplate.replaceAll('{user}', escapeDnValue(user)) : res.searchEntries[0]!.dn;
    } finally {
      await client.unbind().catch(() => undefined);
    }
    // An empty password would be an unauthenticated bind (RFC 4513 5.1.2), which "succeeds".
    if (password === '') return false;
    const binder = await this.connect(false);
    try {
      await binder.bind(dn, password);
      return true;
    } catch (err) {
      if (err instanceof InvalidCredentialsError) return false;
      throw err;
    } finally {
      await binder.unbind().catch(() => undefined);
    }
  }
}
