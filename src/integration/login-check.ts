import type { Account, Accounts, LoginCheck } from '../service/index.js';
import { parseAddress } from '../service/index.js';
import type { UserSource } from './types.js';
import { burnHashCheck } from './burn.js';

/**
 * Own authentication (`integration.authSource`): the service's SMTP AUTH and POP3 logins are
 * checked against a user source instead of the account's stored password. The account must
 * still exist locally and be enabled (it owns the mailbox); the source only vouches for the
 * password. The source is asked with the address, or its local part (`authUserName`).
 * A source that cannot answer throws, which the protocols turn into a temporary failure.
 */
export class SourceLoginCheck implements LoginCheck {
  constructor(
    private readonly accounts: Pick<Accounts, 'find'>,
    private readonly source: UserSource,
    private readonly userName: 'address' | 'localPart' = 'address',
  ) {}

  async authenticate(address: string, password: string): Promise<Account | null> {
    const parsed = parseAddress(address);
    const account = parsed ? await this.accounts.find(parsed.address) : undefined;
    if (!parsed || !account || account.disabled) {
      await burnHashCheck(password);
      return null;
    }
    const name = this.userName === 'address' ? parsed.address : parsed.address.slice(0, parsed.address.lastIndexOf('@'));
    return (await this.source.authenticate(name, password)) === true ? account : null;
  }
}
