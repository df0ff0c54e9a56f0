import type { DomainRow } from '../store/index.js';
import type { Account, Accounts, NewAccount } from './accounts.js';
import { checkAccountLimits } from './accounts.js';

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
  /** dataTimeToLive in days set for this account; null: the configured default (service.kim.defaults). */
  dataTimeToLive: number | null;
  /** maxMailSize in bytes set for this account; null: the configured default. */
  maxMailSize: number | null;
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
    dataTimeToLive: a.dataTimeToLiveDays,
    maxMailSize: a.maxMailSize,
  };
}

export function domainView(d: DomainRow): DomainView {
  return { name: d.name, createdAt: new Date(d.created_at).toISOString() };
}

/** A change of an account as the admin API takes it; absent fields stay as they are. */
export interface AccountChange {
  displayName?: string;
  quotaBytes?: number;
  password?: string;
  disabled?: boolean;
  /** Days; null: back to the configured default. */
  dataTimeToLive?: number | null;
  /** Bytes; null: back to the configured default. */
  maxMailSize?: number | null;
}

/** Domains and accounts as operators see and change them: shared by the CLI and the admin API. */
export class AccountsAdmin {
  constructor(private readonly accounts: Pick<Accounts, 'listDomains' | 'list' | 'addDomain' | 'add' | 'get' | 'setDisplayName' | 'setQuota' | 'setPassword' | 'setDisabled' | 'setLimits'>) {}

  async listDomains(): Promise<DomainView[]> {
    return (await this.accounts.listDomains()).map(domainView);
  }

  /** Accounts of `domain` (all without), those whose address or display name contains `search` (case-insensitive). */
  async list(domain?: string, search?: string): Promise<AccountView[]> {
    const all = (await this.accounts.list(domain)).map(accountView);
    const q = search?.trim().toLowerCase();
    return q ? all.filter((a) => a.address.toLowerCase().includes(q) || a.displayName.toLowerCase().includes(q)) : all;
  }

  async addDomain(name: string): Promise<DomainView> {
    return domainView(await this.accounts.addDomain(name));
  }

  async add(input: NewAccount): Promise<AccountView> {
    return accountView(await this.accounts.add(input));
  }

  /** Applies `change` field by field (the password last, it takes longest); returns the account after it. */
  async change(address: string, change: AccountChange): Promise<AccountView> {
    // Checked before anything is changed: a bad limit must not leave half a change behind.
    checkAccountLimits({
      ...(change.dataTimeToLive !== undefined ? { dataTimeToLiveDays: change.dataTimeToLive } : {}),
      ...(change.maxMailSize !== undefined ? { maxMailSize: change.maxMailSize } : {}),
    });
    const a = await this.accounts.get(address);
    if (change.displayName !== undefined) await this.accounts.setDisplayName(a.address, change.displayName);
    if (change.quotaBytes !== undefined) await this.accounts.setQuota(a.address, change.quotaBytes);
    if (change.disabled !== undefined) await this.accounts.setDisabled(a.address, change.disabled);
    if (change.dataTimeToLive !== undefined || change.maxMailSize !== undefined) {
      await this.accounts.setLimits(a.address, {
        ...(change.dataTimeToLive !== undefined ? { dataTimeToLiveDays: change.dataTimeToLive } : {}),
        ...(change.maxMailSize !== undefined ? { maxMailSize: change.maxMailSize } : {}),
      });
    }
    if (change.password !== undefined) await this.accounts.setPassword(a.address, change.password);
    return accountView(await this.accounts.get(a.address));
  }
}
