import type { Accounts } from '../../service/index.js';
import { parseAddress, normalizeDomain } from '../../service/index.js';
import { escapeDnValue } from '../../wire/ldap/index.js';
import type { IntegrationUser, UserSource } from '../types.js';

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
    private readonly accounts: Pick<Accounts, 'find' | 'authenticate' | 'listAll'>,
    private readonly baseDn: string,
    domains: string[] = [],
  ) {
    this.domains = domains.map(normalizeDomain);
  }

  async *list(signal?: AbortSignal): AsyncIterable<IntegrationUser> {
    for await (const a of this.accounts.listAll({ domains: this.domains, signal })) {
      yield {
        userName: a.address,
        distinguishedName: `mail=${escapeDnValue(a.address)},${this.baseDn}`,
        fullName: a.displayName || a.address,
        emailAddresses: [a.address],
      };
    }
  }

  async authenticate(user: string, password: string): Promise<boolean | null> {
    const parsed = parseAddress(user);
    if (!parsed || (this.domains.length && !this.domains.includes(parsed.domain))) return null;
    if (!(await this.accounts.find(parsed.address))) return null;
    return (await this.accounts.authenticate(parsed.address, password)) !== null;
  }
}
