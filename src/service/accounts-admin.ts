import type { DomainRow } from '../store/index.js';
import type { Account, Accounts, NewAccount } from './accounts.js';
import { checkAccountLimits } from './accounts.js';
import { accountLimits, type AccountLimitDefaults } from './account-limits.js';
import type { KimRegistration, KimRegistrations } from './kim-registrations.js';

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
  /** The KIM registration (present when the admin was given the registrations: service and CLI). */
  registration?: KimRegistration;
  /** The limits getLimits answers, defaults applied (present as registration is). */
  limits?: EffectiveLimits;
}

/** What getLimits answers for the account, and what of it is stored: quota -1 = none. */
export interface EffectiveLimits {
  dataTimeToLive: number;
  maxMailSize: number;
  quota: number;
  remainQuota: number;
  /** Bytes stored in the mailbox now. */
  used: number;
}

/** One account's KIM registration and limits (GET /api/accounts/:address/kim, `postamt account show`). */
export interface KimAccountView {
  address: string;
  telematikId: string | null;
  disabled: boolean;
  registration: KimRegistration;
  limits: EffectiveLimits;
  /** The account's own values; null: service.kim.defaults applies. */
  own: { dataTimeToLive: number | null; maxMailSize: number | null };
}

/** The registrations and the configured defaults, so the views can show KIM's side of an account. */
export interface KimViewSource {
  registrations: KimRegistrations;
  defaults: AccountLimitDefaults;
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
  constructor(
    private readonly accounts: Pick<Accounts, 'listDomains' | 'list' | 'addDomain' | 'add' | 'get' | 'setDisplayName' | 'setQuota' | 'setPassword' | 'setDisabled' | 'setLimits'>,
    /** Absent: the views leave out registration and limits (a caller without the store's KIM columns). */
    private readonly kim?: KimViewSource,
  ) {}

  /** The account's KIM registration and limits; NotFoundError for an unknown address. */
  async kimView(address: string): Promise<KimAccountView> {
    if (!this.kim) throw new Error('AccountsAdmin was made without KIM registrations');
    const a = await this.accounts.get(address);
    const [v] = await this.withKim([a]);
    return { address: v!.address, telematikId: v!.telematikId, disabled: v!.disabled, registration: v!.registration!, limits: v!.limits!, own: { dataTimeToLive: v!.dataTimeToLive, maxMailSize: v!.maxMailSize } };
  }

  /** Account views with registration and limits added, one query for all of them. */
  private async withKim(list: readonly Account[]): Promise<AccountView[]> {
    const views = list.map(accountView);
    if (!this.kim) return views;
    const regs = await this.kim.registrations.byId(list.map((a) => a.id));
    const defaults = this.kim.defaults;
    return views.map((v, i) => {
      const a = list[i]!;
      const l = accountLimits(a, defaults);
      const registration = regs.get(a.id) ?? { state: 'created' as const, kimVersion: null, referenceID: null, deregDate: null, changedAt: null };
      return { ...v, registration, limits: { ...l, used: a.usedBytes } };
    });
  }

  async listDomains(): Promise<DomainView[]> {
    return (await this.accounts.listDomains()).map(domainView);
  }

  /** Accounts of `domain` (all without), those whose address or display name contains `search` (case-insensitive). */
  async list(domain?: string, search?: string): Promise<AccountView[]> {
    const all = await this.accounts.list(domain);
    const q = search?.trim().toLowerCase();
    // Filtered before the registrations are read: only the matching accounts' rows are asked for.
    return this.withKim(q ? all.filter((a) => a.address.toLowerCase().includes(q) || a.displayName.toLowerCase().includes(q)) : all);
  }

  async addDomain(name: string): Promise<DomainView> {
    return domainView(await this.accounts.addDomain(name));
  }

  async add(input: NewAccount): Promise<AccountView> {
    return (await this.withKim([await this.accounts.add(input)]))[0]!;
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
    return (await this.withKim([await this.accounts.get(a.address)]))[0]!;
  }
}
