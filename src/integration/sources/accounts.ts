import type { Kysely } from 'kysely';
import type { Database } from '../../store/index.js';
import type { Accounts } from '../../service/index.js';
import { parseAddress, normalizeDomain } from '../../service/index.js';
import { escapeDnValue } from '../../wire/ldap/index.js';
import type { IntegrationUser, UserSource } from '../types.js';

/** Rows read per query while listing: keyset pages keep memory flat for any number of accounts. */
const PAGE = 2000;

/**
 * The platform's own accounts. userName is the address (what POP3 and SMTP AUTH take),
 * distinguishedName the DN a simple bind to Postamt's directory uses, fullName the display
 * name. Disabled accounts are listed (their archive still belongs to them; an archive that
 * deletes vanished users would otherwise drop it) but never authenticate.
 */
export class AccountsSource implements UserSource {
  readonly type = 'accounts';
  private readonly domains: string[];

  constructor(
    readonly name: string,
    readonly priority: number,
    private readonly db: Kysely<Database>,
    private readonly accounts: Pick<Accounts, 'find' | 'authenticate'>,
    private readonly baseDn: string,
    domains: string[] = [],
  ) {
    this.domains = domains.map(normalizeDomain);
  }

  async *list(signal?: AbortSignal): AsyncIterable<IntegrationUser> {
    let after = 0;
    for (;;) {
      signal?.throwIfAborted();
      let q = this.db
        .selectFrom('accounts')
        .select(['id', 'address', 'display_name'])
        .where('id', '>', after)
        .orderBy('id')
        .limit(PAGE);
      if (this.domains.length) q = q.where('domain', 'in', this.domains);
      const rows = await q.execute();
      for (const r of rows) {
        yield {
          userName: r.address,
          distinguishedName: `mail=${escapeDnValue(r.address)},${this.baseDn}`,
          fullName: r.display_name || r.address,
          emailAddresses: [r.address],
        };
      }
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1]!.id;
    }
  }

  async authenticate(user: string, password: string): Promise<boolean | null> {
    const parsed = parseAddress(user);
    if (!parsed || (this.domains.length && !this.domains.includes(parsed.domain))) return null;
    if (!(await this.accounts.find(parsed.address))) return null;
    return (await this.accounts.authenticate(parsed.address, password)) !== null;
  }
}
