import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../store/index.js';
import type { Accounts, Account } from '../accounts.js';
import { checkAccountLimits } from '../accounts.js';
import { checkPasswordPolicy } from '../password-policy.js';
import { parseAddress } from '../addresses.js';
import type { CheckedJwt } from './jwt.js';

/**
 * The KIM Account Manager's operations (AccountManager.yaml 2.4.0) on the service's accounts,
 * after the JWT has been checked (jwt.ts). Knows nothing of HTTP: failures are
 * AccountManagerErrors whose `kind` the HTTP layer turns into the document's status codes.
 *
 * The provider creates the account beforehand (`postamt account add … --telematik-id`, with
 * the initial password it hands the practice); registerAccount proves the practice holds the
 * SMC-B of that Telematik-ID and the initial password, and sets the new one.
 */
export type AccountManagerErrorKind = 'auth' | 'not-found' | 'conflict' | 'password-rule' | 'kim-version' | 'not-deregistered' | 'otp-invalid' | 'otp-expired' | 'not-supported' | 'bad-request';

export class AccountManagerError extends Error {
  override readonly name = 'AccountManagerError';
  constructor(
    readonly kind: AccountManagerErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/** Account.yaml's Account as Postamt answers and takes it (password only ever taken). */
export interface AccountFields {
  referenceID?: string;
  username?: string;
  password?: string;
  kimVersion?: string;
  dataTimeToLive?: number;
  noVzdMailEntry?: boolean;
}

export interface AccountView {
  username: string;
  referenceID?: string;
  kimVersion?: string;
  regStat?: 'registered' | 'deregistered';
  deregDate?: number;
  dataTimeToLive: number;
  maxMailSize?: number;
}

/** AccountManager.yaml's OutOfOfficeNotification. */
export interface OutOfOffice {
  startDate?: string;
  endDate?: string;
  message?: string;
  active?: boolean;
}

/** CertificateParameters of createCert, the certPassword decoded. */
export interface CertificateParameters {
  commonName: string;
  certPassword?: string;
}

/**
 * Who issues the client module's TLS certificate C.CM.TLS-CS (the provider's CA; roles/ wires
 * crypto/pki's issuer to the configured files). Resolves with the PKCS#12 file; throws when the
 * CA cannot be used (the HTTP layer answers 500).
 */
export type ClientCertificateIssuer = (req: { commonName: string; address: string; password?: string }) => Promise<Uint8Array>;

export interface AccountManagerOptions {
  /** createCert's issuer; absent: createCert is not offered (500, as the document allows). */
  readonly issueClientCertificate?: ClientCertificateIssuer;
  /** KIM versions an account may announce (422 otherwise). */
  readonly kimVersions: readonly string[];
  /** A_19464-03: the deregistration takes effect after this many days (30). */
  readonly deregistrationDays: number;
  readonly referenceIdRequired: boolean;
  /** registerAccount checks iniPassword against the account's password (ServiceInformation's initialPasswordRequired). */
  readonly initialPasswordRequired: boolean;
  readonly defaults: { readonly dataTimeToLiveDays: number; readonly maxMailSize: number };
  /** How long getOTP's one-time password is good for setTID, in seconds. */
  readonly otpLifetimeSeconds: number;
  /** Unix seconds; tests give their own clock. */
  readonly now?: () => number;
}

/** maxMailSize in AccountManager.yaml is fixed (minimum = maximum = 734003200): other values are not shown. */
const SCHEMA_MAX_MAIL_SIZE = 734_003_200;

export class AccountManager {
  private readonly now: () => number;
  private purgedAt = -Infinity;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly accounts: Accounts,
    private readonly o: AccountManagerOptions,
  ) {
    this.now = o.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /** kim_changed_at is epoch ms like the other times of the store; the test clock's seconds scaled. */
  private nowMs(): number {
    return this.o.now ? this.o.now() * 1000 : Date.now();
  }

  /** Replay protection: true the first time a token is seen; expired entries go on the way, once a minute. */
  async firstUse(jwt: CheckedJwt): Promise<boolean> {
    const now = this.now();
    // Not on every call: each write waits for the WAL's fdatasync, and this one halved getAccount's rate (bench:provider).
    if (now - this.purgedAt >= 60 || now < this.purgedAt) {
      this.purgedAt = now;
      await this.db.deleteFrom('kim_jwt_seen').where('expires_at', '<', now).execute();
    }
    const r = await this.db.insertInto('kim_jwt_seen').values({ token_id: jwt.tokenId, expires_at: Math.ceil(jwt.expiresAt) }).onConflict((oc) => oc.column('token_id').doNothing()).executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async register(jwt: CheckedJwt, iniPassword: string, body: AccountFields): Promise<void> {
    if (!body.username) throw new AccountManagerError('bad-request', 'username is required');
    if (this.o.referenceIdRequired && !body.referenceID) throw new AccountManagerError('auth', 'referenceID is required by this provider');
    // One answer for an unknown address, a wrong initial password and another card, so that
    // none of them tells a card holder which of the others is right.
    // initialPasswordRequired false (ServiceInformation): the card alone proves the practice.
    const account = this.o.initialPasswordRequired ? await this.accounts.authenticate(body.username, iniPassword) : await this.enabledAccount(body.username);
    if (!account || account.telematikId !== jwt.telematikId) throw new AccountManagerError('auth', 'authentication failed: the address, the initial password or the card does not fit');
    const row = await this.row(account);
    if (row.kim_reg_stat) throw new AccountManagerError('conflict', `${account.address} is registered already`);
    this.checkFields(body);
    await this.apply(account, body);
    await this.db
      .updateTable('accounts')
      .set({ kim_reg_stat: 'registered', kim_version: body.kimVersion ?? this.o.kimVersions[0] ?? null, kim_reference_id: body.referenceID ?? null, kim_dereg_date: null, kim_changed_at: this.nowMs() })
      .where('id', '=', account.id)
      .execute();
  }

  async get(jwt: CheckedJwt, username: string, password: string): Promise<AccountView> {
    const account = await this.authorised(jwt, username, password);
    const row = await this.row(account);
    const size = account.maxMailSize ?? this.o.defaults.maxMailSize;
    return {
      username: account.address,
      ...(row.kim_reference_id ? { referenceID: row.kim_reference_id } : {}),
      ...(row.kim_version ? { kimVersion: row.kim_version } : {}),
      ...(row.kim_reg_stat ? { regStat: row.kim_reg_stat } : {}),
      ...(row.kim_dereg_date !== null ? { deregDate: Number(row.kim_dereg_date) } : {}),
      dataTimeToLive: account.dataTimeToLiveDays ?? this.o.defaults.dataTimeToLiveDays,
      ...(size === SCHEMA_MAX_MAIL_SIZE ? { maxMailSize: size } : {}),
    };
  }

  async set(jwt: CheckedJwt, username: string, password: string, body: AccountFields): Promise<void> {
    const account = await this.authorised(jwt, username, password);
    if (body.username !== undefined && parseAddress(body.username)?.address !== account.address) throw new AccountManagerError('bad-request', 'username cannot be changed by setAccount');
    const row = await this.row(account);
    if (body.referenceID !== undefined && body.referenceID !== row.kim_reference_id) throw new AccountManagerError('bad-request', 'referenceID cannot be changed by setAccount');
    this.checkFields(body);
    await this.apply(account, body);
    await this.db
      .updateTable('accounts')
      .set({ ...(body.kimVersion !== undefined ? { kim_version: body.kimVersion } : {}), kim_changed_at: this.nowMs() })
      .where('id', '=', account.id)
      .execute();
  }

  /** A_19464-03: deregistered now, deleted after deregDate; a second call keeps the first date. */
  async deregister(jwt: CheckedJwt, username: string, password: string): Promise<number> {
    const account = await this.authorised(jwt, username, password);
    const row = await this.row(account);
    if (row.kim_reg_stat === 'deregistered' && row.kim_dereg_date !== null) return Number(row.kim_dereg_date);
    const date = this.now() + this.o.deregistrationDays * 86_400;
    await this.db.updateTable('accounts').set({ kim_reg_stat: 'deregistered', kim_dereg_date: date, kim_changed_at: this.nowMs() }).where('id', '=', account.id).execute();
    return date;
  }

  async revokeDeregistration(jwt: CheckedJwt, username: string, password: string): Promise<void> {
    const account = await this.authorised(jwt, username, password);
    const row = await this.row(account);
    if (row.kim_reg_stat !== 'deregistered') throw new AccountManagerError('not-deregistered', `${account.address} has not been deregistered`);
    await this.db.updateTable('accounts').set({ kim_reg_stat: 'registered', kim_dereg_date: null, kim_changed_at: this.nowMs() }).where('id', '=', account.id).execute();
  }

  /** The stored out-of-office note ({} when none was set). */
  async getOutOfOffice(jwt: CheckedJwt, username: string, password: string): Promise<OutOfOffice> {
    const account = await this.authorised(jwt, username, password);
    const r = await this.db.selectFrom('accounts').select('kim_out_of_office').where('id', '=', account.id).executeTakeFirstOrThrow();
    return r.kim_out_of_office ? (JSON.parse(r.kim_out_of_office) as OutOfOffice) : {};
  }

  /** Replaces the note (stored only: the autoreply that sends it comes later). */
  async updateOutOfOffice(jwt: CheckedJwt, username: string, password: string, note: OutOfOffice): Promise<void> {
    const account = await this.authorised(jwt, username, password);
    if (note.startDate && note.endDate && Date.parse(note.endDate) < Date.parse(note.startDate)) throw new AccountManagerError('bad-request', 'endDate lies before startDate');
    const { startDate, endDate, message, active } = note;
    await this.db.updateTable('accounts').set({ kim_out_of_office: JSON.stringify({ startDate, endDate, message, active }) }).where('id', '=', account.id).execute();
  }

  /**
   * Porting, step 1 (with the old card): a one-time password for setTID. Only its hash is
   * stored; a new getOTP replaces an earlier one.
   */
  async getOtp(jwt: CheckedJwt, username: string, password: string): Promise<string> {
    const account = await this.authorised(jwt, username, password);
    const otp = randomBytes(18).toString('base64url');
    await this.db.updateTable('accounts').set({ kim_otp_hash: sha256(otp), kim_otp_expires: this.now() + this.o.otpLifetimeSeconds }).where('id', '=', account.id).execute();
    return otp;
  }

  /**
   * Porting, step 2 (with the new card): the account's password and the OTP move the address
   * to the Telematik-ID of the JWT's certificate (and its directory entry with it).
   */
  async setTid(jwt: CheckedJwt, username: string, password: string, otp: string): Promise<void> {
    const account = await this.authorised(jwt, username, password, { anyInstitution: true });
    const r = await this.db.selectFrom('accounts').select(['kim_otp_hash', 'kim_otp_expires']).where('id', '=', account.id).executeTakeFirstOrThrow();
    const given = Buffer.from(sha256(otp), 'hex');
    if (!r.kim_otp_hash || !timingSafeEqual(given, Buffer.from(r.kim_otp_hash, 'hex'))) throw new AccountManagerError('otp-invalid', 'the OTP is not the one getOTP issued');
    if (r.kim_otp_expires === null || Number(r.kim_otp_expires) < this.now()) throw new AccountManagerError('otp-expired', 'the OTP has expired; ask for a new one with getOTP');
    await this.db.updateTable('accounts').set({ kim_otp_hash: null, kim_otp_expires: null, kim_changed_at: this.nowMs() }).where('id', '=', account.id).execute();
    if (account.telematikId !== jwt.telematikId) await this.accounts.setTelematikId(account.address, jwt.telematikId);
  }

  /**
   * createCert: a new C.CM.TLS-CS for the account's client module, as a PKCS#12 file (encrypted
   * when a certPassword is given). Every call issues a new key pair: the Administrationsmodul
   * asks again before the old one expires (Anwendungsfaelle.adoc "Aktualisierung").
   */
  async createCert(jwt: CheckedJwt, username: string, password: string, params: CertificateParameters): Promise<Uint8Array> {
    const issue = this.o.issueClientCertificate;
    if (!issue) throw new AccountManagerError('not-supported', 'createCert is not offered by this provider (no CA configured)');
    const account = await this.authorised(jwt, username, password);
    return issue({ commonName: params.commonName, address: account.address, ...(params.certPassword !== undefined ? { password: params.certPassword } : {}) });
  }

  /** Deletes the accounts whose deregistration date has passed (the retention job calls it); returns their addresses. */
  async deleteDeregistered(nowSeconds = this.now()): Promise<string[]> {
    const due = await this.db.selectFrom('accounts').select('address').where('kim_reg_stat', '=', 'deregistered').where('kim_dereg_date', '<=', nowSeconds).execute();
    for (const r of due) await this.accounts.remove(r.address);
    return due.map((r) => r.address);
  }

  private async authorised(jwt: CheckedJwt, username: string, password: string, o: { anyInstitution?: boolean } = {}): Promise<Account> {
    // CommonSchemas.yaml's Username: an email of at most 256 characters.
    const address = username.length <= 256 ? parseAddress(username)?.address : undefined;
    if (!address) throw new AccountManagerError('bad-request', 'username is not a mail address of at most 256 characters');
    const known = await this.accounts.find(address);
    if (!known) throw new AccountManagerError('not-found', `no account ${address}`);
    const row = await this.row(known);
    // Past its deregistration date an account is gone, whether or not the sweep has run yet.
    if (row.kim_reg_stat === 'deregistered' && row.kim_dereg_date !== null && Number(row.kim_dereg_date) <= this.now()) throw new AccountManagerError('not-found', `no account ${address}`);
    // The card before the password: a holder of another card learns nothing about the password.
    if (!o.anyInstitution) this.sameInstitution(jwt, known);
    const account = await this.accounts.authenticate(address, password);
    if (!account) throw new AccountManagerError('auth', 'the password is wrong');
    return account;
  }

  private async enabledAccount(username: string): Promise<Account | undefined> {
    const a = await this.accounts.find(username);
    return a && !a.disabled ? a : undefined;
  }

  /** The JWT's card must be the account's institution: its Telematik-ID, as the directory has it. */
  private sameInstitution(jwt: CheckedJwt, account: Account): void {
    if (!account.telematikId || account.telematikId !== jwt.telematikId) throw new AccountManagerError('auth', "the JWT's certificate is of another Telematik-ID than the account's");
  }

  private async row(account: Account) {
    return this.db.selectFrom('accounts').select(['kim_reg_stat', 'kim_version', 'kim_reference_id', 'kim_dereg_date']).where('id', '=', account.id).executeTakeFirstOrThrow();
  }

  private checkFields(body: AccountFields): void {
    if (body.kimVersion !== undefined && !this.o.kimVersions.includes(body.kimVersion)) {
      throw new AccountManagerError('kim-version', `kimVersion ${JSON.stringify(body.kimVersion)} is not supported (supported: ${this.o.kimVersions.join(', ')})`);
    }
    if (body.password !== undefined) {
      try {
        checkPasswordPolicy(body.password);
      } catch (err) {
        throw new AccountManagerError('password-rule', (err as Error).message);
      }
    }
    if (body.dataTimeToLive !== undefined) {
      try {
        checkAccountLimits({ dataTimeToLiveDays: body.dataTimeToLive });
      } catch (err) {
        throw new AccountManagerError('bad-request', (err as Error).message);
      }
    }
  }

  private async apply(account: Account, body: AccountFields): Promise<void> {
    if (body.password !== undefined) await this.accounts.setPassword(account.address, body.password);
    if (body.dataTimeToLive !== undefined) await this.accounts.setLimits(account.address, { dataTimeToLiveDays: body.dataTimeToLive });
  }
}

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');
