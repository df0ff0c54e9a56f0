import type { Account, Accounts } from './accounts.js';
import type { LoginCheck } from './login-check.js';

/** The configured defaults for accounts without a value of their own (service.kim.defaults). */
export interface AccountLimitDefaults {
  dataTimeToLiveDays: number;
  maxMailSize: number;
}

/**
 * An account's limits as KIM's I_AccountLimit_Service (AccountLimit.yaml 1.1.4) names them.
 * quota/remainQuota: -1 is "unlimited" there, which Postamt stores as quota 0.
 */
export interface AccountLimits {
  dataTimeToLive: number;
  maxMailSize: number;
  quota: number;
  remainQuota: number;
}

export function accountLimits(account: Pick<Account, 'dataTimeToLiveDays' | 'maxMailSize' | 'quotaBytes' | 'usedBytes'>, defaults: AccountLimitDefaults): AccountLimits {
  const unlimited = account.quotaBytes === 0;
  return {
    dataTimeToLive: account.dataTimeToLiveDays ?? defaults.dataTimeToLiveDays,
    maxMailSize: account.maxMailSize ?? defaults.maxMailSize,
    quota: unlimited ? -1 : account.quotaBytes,
    // used may pass the quota (a quota lowered below what is stored): nothing remains, not less.
    remainQuota: unlimited ? -1 : Math.max(0, account.quotaBytes - account.usedBytes),
  };
}

/**
 * getLimits behind the HTTP edge: the credentials checked as POP3 checks them — by the
 * accounts' own passwords (and their login cache), or by the archive integration's user
 * source when one checks logins — and the account's limits.
 */
export class AccountLimitService {
  constructor(
    private readonly accounts: Pick<Accounts, 'authenticate' | 'authenticateCached'>,
    private readonly defaults: AccountLimitDefaults,
    /** Who checks passwords, when not the accounts themselves (integration/). */
    private readonly logins?: LoginCheck,
  ) {}

  async limits(user: string, password: string): Promise<AccountLimits | null> {
    const account = await (this.logins ?? this.accounts).authenticate(user, password);
    return account ? accountLimits(account, this.defaults) : null;
  }

  /** A user source is always asked in full: its answers are not in the login cache. */
  async limitsCached(user: string, password: string): Promise<AccountLimits | undefined> {
    if (this.logins) return undefined;
    const account = await this.accounts.authenticateCached(user, password);
    return account ? accountLimits(account, this.defaults) : undefined;
  }
}
