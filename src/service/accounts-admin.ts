import type { DomainRow } from '../store/index.js';
import type { Account, Accounts } from './accounts.js';

/** An account as operators see it, in the CLI's `--json` and the admin API alike. */
export interface AccountView {
  address: string;
  displayName: string;
  telematikId: string | null;
  quotaBytes: number;
  usedBytes: number;
  disabled: boolean;
  /** ISO 8601. */
  createdAt: string;
}

/** A local domain as operators see it. */
export interface DomainView {
  name: string;
  /** ISO 8601. */
  createdAt: string;
}

export function accountView(a: Account): AccountView {
  return {
    address: a.address,
    displayName: a.displayName,
    telematikId: a.telematikId,
    quotaBytes: a.quotaBytes,
    usedBytes: a.usedBytes,
    disabled: a.disabled,
    createdAt: new Date(a.createdAt).toISOString(),
  };
}

export function domainView(d: DomainRow): DomainView {
  return { name: d.name, createdAt: new Date(d.created_at).toISOString() };
}

/** Listing domains and accounts as operators see them: shared by the CLI and the admin API. */
export class AccountsAdmin {
  constructor(private readonly accounts: Pick<Accounts, 'listDomains' | 'list'>) {}

  async listDomains(): Promise<DomainView[]> {
    return (await this.accounts.listDomains()).map(domainView);
  }

  async list(domain?: string): Promise<AccountView[]> {
    return (await this.accounts.list(domain)).map(accountView);
  }
}
