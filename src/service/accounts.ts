import type { Kysely, Transaction } from 'kysely';
import type { AccountRow, Database, DomainRow, BlobStore } from '../store/index.js';
import { blobsInUse } from '../store/index.js';
import { ConflictError, NotFoundError, UsageError } from '../core/index.js';
import { hashPassword, verifyPassword, burnPasswordCheck } from './passwords.js';
import { isValidDomain, normalizeDomain, parseAddress } from './addresses.js';
import type { LoginCache } from './login-cache.js';
import { checkPasswordPolicy } from './password-policy.js';

export interface Account {
  id: number;
  address: string;
  domain: string;
  displayName: string;
  telematikId: string | null;
  quotaBytes: number;
  usedBytes: number;
  disabled: boolean;
  createdAt: number;
  /** dataTimeToLive in days; null: the configured default (service.kim.defaults). */
  dataTimeToLiveDays: number | null;
  /** maxMailSize in bytes; null: the configured default. */
  maxMailSize: number | null;
}

/** KIM's bounds of the per-account limits (AccountLimit.yaml 1.1.4). */
export const DATA_TTL_DAYS_MIN = 10;
export const DATA_TTL_DAYS_MAX = 365;
export const MAX_MAIL_SIZE_MIN = 734_003_200;

/** A change of an account's limits; null resets one to the configured default. */
export interface AccountLimitsChange {
  dataTimeToLiveDays?: number | null;
  maxMailSize?: number | null;
}

/** Throws a UsageError for a limit outside KIM's bounds. */
export function checkAccountLimits(change: AccountLimitsChange): void {
  const ttl = change.dataTimeToLiveDays;
  if (ttl !== undefined && ttl !== null && (!Number.isInteger(ttl) || ttl < DATA_TTL_DAYS_MIN || ttl > DATA_TTL_DAYS_MAX)) {
    throw new UsageError(`dataTimeToLive must be a whole number of days from ${DATA_TTL_DAYS_MIN} to ${DATA_TTL_DAYS_MAX}`);
  }
  const size = change.maxMailSize;
  if (size !== undefined && size !== null && (!Number.isSafeInteger(size) || size < MAX_MAIL_SIZE_MIN)) {
    throw new UsageError(`maxMailSize must be a whole number of bytes, at least ${MAX_MAIL_SIZE_MIN} (KIM's minimum)`);
  }
}

export interface NewAccount {
  address: string;
  password: string;
  displayName?: string;
  telematikId?: string | null;
  quotaBytes?: number;
}

function toAccount(r: AccountRow): Account {
  return {
    id: r.id,
    address: r.address,
    domain: r.domain,
    displayName: r.display_name,
    telematikId: r.telematik_id,
    quotaBytes: r.quota_bytes,
    usedBytes: r.used_bytes,
    disabled: r.disabled !== 0,
    createdAt: r.created_at,
    dataTimeToLiveDays: r.data_ttl_days ?? null,
    maxMailSize: r.max_mail_size ?? null,
  };
}

const TELEMATIK_ID_RE = /^[0-9]{1,2}-[0-9A-Za-z.\-_]{1,126}$/;

/**
 * Someone listening for account changes: the directory keeps `mail`/`komLeData` in step.
 * The hooks run inside the transaction of the change (a throw rolls the change back);
 * `committed` runs after its COMMIT.
 */
export interface AccountListener {
  accountAdded?(account: Account, trx: Transaction<Database>): Promise<void> | void;
  accountRemoved?(account: Account, trx: Transaction<Database>): Promise<void> | void;
  committed?(): void;
}

/** Domains and accounts: the service's users. Knows nothing of protocols. */
export class Accounts {
  private readonly listeners: AccountListener[] = [];

  constructor(
    private readonly db: Kysely<Database>,
    private readonly blobs: BlobStore,
    /** Remembers successful logins (the service's SMTP AUTH and POP3); absent: every login runs scrypt. */
    private readonly loginCache?: LoginCache,
  ) {}

  onChange(listener: AccountListener): void {
    this.listeners.push(listener);
  }

  // ---- domains ----

  async addDomain(name: string): Promise<DomainRow> {
    const domain = normalizeDomain(name);
    if (!isValidDomain(domain)) throw new UsageError(`"${name}" is not a valid domain name`);
    const existing = await this.db.selectFrom('domains').selectAll().where('name', '=', domain).executeTakeFirst();
    if (existing) throw new ConflictError(`domain ${domain} exists already`);
    const row = { name: domain, created_at: Date.now() };
    await this.db.insertInto('domains').values(row).execute();
    return row;
  }

  listDomains(): Promise<DomainRow[]> {
    return this.db.selectFrom('domains').selectAll().orderBy('name').execute();
  }

  async isLocalDomain(name: string): Promise<boolean> {
    const row = await this.db.selectFrom('domains').select('name').where('name', '=', normalizeDomain(name)).executeTakeFirst();
    return row !== undefined;
  }

  /** Which of `names` are local domains, in one statement. */
  async localDomains(names: readonly string[]): Promise<Set<string>> {
    const wanted = [...new Set(names.map(normalizeDomain))];
    if (wanted.length === 0) return new Set();
    const rows = await this.db.selectFrom('domains').select('name').where('name', 'in', wanted).execute();
    return new Set(rows.map((r) => r.name));
  }

  async removeDomain(name: string): Promise<void> {
    const domain = normalizeDomain(name);
    const count = await this.db
      .selectFrom('accounts')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('domain', '=', domain)
      .executeTakeFirstOrThrow();
    if (Number(count.n) > 0) throw new ConflictError(`domain ${domain} still has ${count.n} account(s); remove them first`);
    const res = await this.db.deleteFrom('domains').where('name', '=', domain).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw new NotFoundError(`domain ${domain} does not exist`);
  }

  // ---- accounts ----

  async add(input: NewAccount): Promise<Account> {
    const parsed = parseAddress(input.address);
    if (!parsed) throw new UsageError(`"${input.address}" is not a valid mail address`);
    checkPasswordPolicy(input.password);
    if (input.telematikId && !TELEMATIK_ID_RE.test(input.telematikId)) {
      throw new UsageError(`"${input.telematikId}" is not a Telematik-ID (expected e.g. 1-2345678 or 5-SMC-B-Testkarte-883110000092412)`);
    }
    if (input.quotaBytes !== undefined && (!Number.isSafeInteger(input.quotaBytes) || input.quotaBytes < 0)) {
      throw new UsageError('the quota must be a whole number of bytes, 0 for none');
    }
    if (!(await this.isLocalDomain(parsed.domain))) throw new UsageError(`domain ${parsed.domain} is not a local domain; add it first`);
    if (await this.find(parsed.address)) throw new ConflictError(`account ${parsed.address} exists already`);
    const passwordHash = await hashPassword(input.password);
    const account = await this.db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('accounts')
        .values({
          address: parsed.address,
          domain: parsed.domain,
          display_name: input.displayName ?? '',
          telematik_id: input.telematikId ?? null,
          password_hash: passwordHash,
          quota_bytes: input.quotaBytes ?? 0,
          used_bytes: 0,
          disabled: 0,
          created_at: Date.now(),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      const added = toAccount(row);
      for (const l of this.listeners) await l.accountAdded?.(added, trx);
      return added;
    });
    this.notifyCommitted();
    return account;
  }

  async find(address: string): Promise<Account | undefined> {
    const parsed = parseAddress(address);
    if (!parsed) return undefined;
    const row = await this.db.selectFrom('accounts').selectAll().where('address', '=', parsed.address).executeTakeFirst();
    return row ? toAccount(row) : undefined;
  }

  /**
   * What RCPT asks, in one statement: whether the address's domain is local, and its account
   * if it has one (the domain's row with the account left-joined on the address).
   */
  async recipient(address: string): Promise<{ localDomain: boolean; account: Account | undefined }> {
    const parsed = parseAddress(address);
    if (!parsed) return { localDomain: false, account: undefined };
    const row = await this.db
      .selectFrom('domains')
      .leftJoin('accounts', (join) => join.on('accounts.address', '=', parsed.address))
      .select(['domains.name as local_domain'])
      .selectAll('accounts')
      .where('domains.name', '=', parsed.domain)
      .executeTakeFirst();
    if (!row) return { localDomain: false, account: undefined };
    return { localDomain: true, account: row.id === null ? undefined : toAccount(row as AccountRow) };
  }

  /** The accounts of several addresses in one statement, by address (absent ones are missing). */
  async findAll(addresses: readonly string[]): Promise<Map<string, Account>> {
    const wanted = [...new Set(addresses.flatMap((a) => parseAddress(a)?.address ?? []))];
    const found = new Map<string, Account>();
    if (wanted.length === 0) return found;
    const rows = await this.db.selectFrom('accounts').selectAll().where('address', 'in', wanted).execute();
    for (const r of rows) found.set(r.address, toAccount(r));
    return found;
  }

  async get(address: string): Promise<Account> {
    const a = await this.find(address);
    if (!a) throw new NotFoundError(`account ${address} does not exist`);
    return a;
  }

  async list(domain?: string): Promise<Account[]> {
    let q = this.db.selectFrom('accounts').selectAll().orderBy('address');
    if (domain) q = q.where('domain', '=', normalizeDomain(domain));
    return (await q.execute()).map(toAccount);
  }

  /**
   * Every account (of `domains`, when given) in pages of `pageSize` by id: keyset pages keep
   * memory flat for any number of accounts (the archive endpoint lists them all).
   */
  async *listAll(opts: { domains?: readonly string[]; pageSize?: number; signal?: AbortSignal } = {}): AsyncIterable<Account> {
    const pageSize = opts.pageSize ?? 2000;
    const domains = (opts.domains ?? []).map(normalizeDomain);
    let after = 0;
    for (;;) {
      opts.signal?.throwIfAborted();
      let q = this.db.selectFrom('accounts').selectAll().where('id', '>', after).orderBy('id').limit(pageSize);
      if (domains.length) q = q.where('domain', 'in', domains);
      const rows = await q.execute();
      for (const r of rows) yield toAccount(r);
      if (rows.length < pageSize) return;
      after = rows[rows.length - 1]!.id;
    }
  }

  async count(): Promise<number> {
    const r = await this.db.selectFrom('accounts').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async setPassword(address: string, password: string): Promise<void> {
    checkPasswordPolicy(password);
    const account = await this.get(address);
    await this.db.updateTable('accounts').set({ password_hash: await hashPassword(password) }).where('id', '=', account.id).execute();
    this.loginCache?.forget(account.address);
  }

  async setDisabled(address: string, disabled: boolean): Promise<void> {
    const account = await this.get(address);
    await this.db.updateTable('accounts').set({ disabled: disabled ? 1 : 0 }).where('id', '=', account.id).execute();
    this.loginCache?.forget(account.address);
  }

  /** Sets or clears (null) the Telematik-ID; listeners see the old one removed and the new one added. */
  async setTelematikId(address: string, telematikId: string | null): Promise<Account> {
    if (telematikId && !TELEMATIK_ID_RE.test(telematikId)) {
      throw new UsageError(`"${telematikId}" is not a Telematik-ID (expected e.g. 1-2345678 or 5-SMC-B-Testkarte-883110000092412)`);
    }
    const before = await this.get(address);
    const after = { ...before, telematikId };
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('accounts').set({ telematik_id: telematikId }).where('id', '=', before.id).execute();
      for (const l of this.listeners) {
        await l.accountRemoved?.(before, trx);
        await l.accountAdded?.(after, trx);
      }
    });
    this.notifyCommitted();
    return after;
  }

  private notifyCommitted(): void {
    for (const l of this.listeners) l.committed?.();
  }

  /** The name shown for the account (the directory entry, once made, keeps its own displayName). */
  async setDisplayName(address: string, displayName: string): Promise<void> {
    if (displayName.length > 200 || /[\u0000-\u001f\u007f]/.test(displayName)) throw new UsageError('the display name must be at most 200 characters without control characters');
    const account = await this.get(address);
    await this.db.updateTable('accounts').set({ display_name: displayName }).where('id', '=', account.id).execute();
  }

  async setQuota(address: string, quotaBytes: number): Promise<void> {
    const account = await this.get(address);
    await this.db.updateTable('accounts').set({ quota_bytes: quotaBytes }).where('id', '=', account.id).execute();
  }

  /** Sets the account's dataTimeToLive and/or maxMailSize (null: back to the configured default). */
  async setLimits(address: string, change: AccountLimitsChange): Promise<void> {
    checkAccountLimits(change);
    const account = await this.get(address);
    const set: { data_ttl_days?: number | null; max_mail_size?: number | null } = {};
    if (change.dataTimeToLiveDays !== undefined) set.data_ttl_days = change.dataTimeToLiveDays;
    if (change.maxMailSize !== undefined) set.max_mail_size = change.maxMailSize;
    if (Object.keys(set).length === 0) return;
    await this.db.updateTable('accounts').set(set).where('id', '=', account.id).execute();
  }

  /** Removes the account and its mailbox; blobs no longer referenced are deleted after commit. */
  async remove(address: string): Promise<void> {
    const account = await this.get(address);
    const hashes = await this.db.transaction().execute(async (trx) => {
      const rows = await trx.selectFrom('messages').select('blob_hash').where('account_id', '=', account.id).execute();
      await trx.deleteFrom('messages').where('account_id', '=', account.id).execute();
      await trx.deleteFrom('kim_autoreplies').where('account_id', '=', account.id).execute();
      await trx.deleteFrom('accounts').where('id', '=', account.id).execute();
      for (const l of this.listeners) await l.accountRemoved?.(account, trx);
      return [...new Set(rows.map((r) => r.blob_hash))];
    });
    this.loginCache?.forget(account.address);
    this.notifyCommitted();
    await deleteUnreferencedBlobs(this.db, this.blobs, hashes);
  }

  /**
   * Checks a login. Unknown and disabled accounts take as long as a wrong password, and all
   * three answer the same, so a guesser learns nothing about which addresses exist. The row
   * is read every time, so a cached success never outlives a password change or a disable,
   * whichever process made it.
   */
  async authenticate(address: string, password: string): Promise<Account | null> {
    const parsed = parseAddress(address);
    const row = parsed
      ? await this.db.selectFrom('accounts').selectAll().where('address', '=', parsed.address).executeTakeFirst()
      : undefined;
    if (!row) {
      await burnPasswordCheck(password);
      return null;
    }
    const ok = this.loginCache
      ? await this.loginCache.verify(row.address, password, row.password_hash, verifyPassword)
      : await verifyPassword(password, row.password_hash);
    if (!ok || row.disabled) return null;
    return toAccount(row);
  }

  /**
   * A login answered from the login cache alone: the account when the password is a cached
   * success for an enabled account, undefined when that is not known without the full check
   * (cache off, miss, wrong password, unknown or disabled account) — then `authenticate`
   * decides, so a failure still takes as long and answers the same. The row is read as there.
   */
  async authenticateCached(address: string, password: string): Promise<Account | undefined> {
    if (!this.loginCache?.enabled) return undefined;
    const parsed = parseAddress(address);
    if (!parsed) return undefined;
    const row = await this.db.selectFrom('accounts').selectAll().where('address', '=', parsed.address).executeTakeFirst();
    // A disabled account is never a hit: not even the cache's hit count sees it.
    if (!row || row.disabled) return undefined;
    return this.loginCache.peek(row.address, password, row.password_hash) ? toAccount(row) : undefined;
  }
}

/** Deletes those of `hashes` that no row refers to any more (blobsInUse). */
export async function deleteUnreferencedBlobs(db: Kysely<Database>, blobs: BlobStore, hashes: string[]): Promise<void> {
  if (hashes.length === 0) return;
  const stillUsed = await blobsInUse(db, hashes);
  for (const h of hashes) if (!stillUsed.has(h)) await blobs.delete(h);
}
