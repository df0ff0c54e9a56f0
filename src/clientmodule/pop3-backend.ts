import type { OutcomeRing } from './outcomes.js';
import type { ClientCertificateFor } from './client-certificates.js';
import type { Logger } from '../core/index.js';
import { errorMessage } from '../core/index.js';
import { Pop3Client, Pop3ClientError, Pop3MessageGoneError, type Pop3Backend, type Pop3LoginRequest, type Pop3LoginResult, type Pop3Maildrop, type Pop3Message } from '../pop3/index.js';
import { kim, mime, pop3 } from '../wire/index.js';
import type { LoginPolicy } from './login-policy.js';
import { openMessage, presentForPrimarySystem, KonnektorError, isContextError, type IntegrityFailureMode, type Konnektor } from '../crypto/index.js';

export interface ClientModulePop3Options {
  konnektor: Konnektor;
  /** Which account may use which call context; checked before anything else at login. */
  policy: LoginPolicy;
  upstream: { ca?: string[]; rejectUnauthorized: boolean; timeoutMs: number };
  /** The TLS client certificate presented upstream for an account (KOM-LE-A_2182-01); none: no certificate. */
  clientCertificate?: ClientCertificateFor;
  appendNote: boolean;
  /** A_23165: what the PS gets after a failed integrity check. */
  integrityFailure?: IntegrityFailureMode;
  /** Per session: decrypted messages kept after LIST so RETR does not decrypt again. */
  sessionCacheBytes: number;
  /** What all sessions together may keep so (clientModule.cacheTotalBytes). */
  cacheBudget: ByteBudget;
  sizeCache: PresentedSizeCache;
  maxMessageSize: number;
  logger: Logger;
  /** Where each opened message's result is noted for the console (addresses and KIM codes only). */
  outcomes?: OutcomeRing;
}

/**
 * Bytes that several holders share under one limit: the POP3 sessions' decrypted messages, so
 * many sessions at once cannot hold `sessionCacheBytes` each. Without room a session decrypts
 * again at RETR instead of keeping the message.
 */
export class ByteBudget {
  private used = 0;
  constructor(readonly limit: number) {}
  /** Takes `n` bytes if they fit; false (and nothing taken) if not. */
  take(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }
  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
  get inUse(): number {
    return this.used;
  }
}

/**
 * Sizes of messages as the PS sees them (decrypted, with result headers), by account and
 * UIDL: STAT and LIST must announce exactly what RETR delivers, and decrypting every message
 * at every login would be wasteful. UIDLs are stable for a message's life, so entries never
 * go stale; the oldest are dropped when the cache is full.
 */
export class PresentedSizeCache {
  private readonly sizes = new Map<string, number>();
  constructor(private readonly maxEntries: number) {}
  get(account: string, uid: string): number | undefined {
    return this.sizes.get(`${account.toLowerCase()}\n${uid}`);
  }
  set(account: string, uid: string, size: number): void {
    if (this.maxEntries === 0) return;
    if (this.sizes.size >= this.maxEntries) {
      const oldest = this.sizes.keys().next();
      if (!oldest.done) this.sizes.delete(oldest.value);
    }
    this.sizes.set(`${account.toLowerCase()}\n${uid}`, size);
  }
  delete(account: string, uid: string): void {
    this.sizes.delete(`${account.toLowerCase()}\n${uid}`);
  }
}

/**
 * The client module's receive side behind the POP3 edge: the login (KIM POP3 user name) opens
 * a POP3S session at the mail service it names; messages are fetched from there, KOM-LE ones
 * decrypted and verified through the Konnektor and presented with the result headers;
 * others pass unchanged.
 */
export class ClientModulePop3Backend implements Pop3Backend {
  constructor(private readonly opts: ClientModulePop3Options) {}

  async login(req: Pop3LoginRequest): Promise<Pop3LoginResult> {
    let user: kim.KimUserName;
    try {
      user = kim.parseKimUserName(req.user, 'pop3');
    } catch (err) {
      if (err instanceof kim.KimUserNameError) return { ok: false, reason: 'credentials', message: err.message };
      throw err;
    }
    if (req.authzid !== undefined && req.authzid !== req.user && req.authzid !== user.address) {
      return { ok: false, reason: 'credentials', message: 'authorization identity not permitted' };
    }
    const verdict = this.opts.policy.check(user);
    if (!verdict.ok) {
      const c = user.context;
      this.opts.logger.warn({ address: user.address, mta: `${user.host}:${user.port}`, mandant: c.mandantId, clientSystem: c.clientSystemId, workplace: c.workplaceId, userId: c.userId, why: verdict.why }, 'client module login refused');
      return { ok: false, reason: 'credentials', message: verdict.text };
    }
    // The Konnektor then checks the context: a PS configured for the wrong Mandant learns it at login.
    try {
      await this.opts.konnektor.readCardCertificate(user.context, 'C.ENC');
    } catch (err) {
      // A missing card is no reason to refuse the login: its messages become failure messages
      // with X-KIM-DecryptionResult 01, which tells the practice what is wrong.
      if (isContextError(err)) return { ok: false, reason: 'credentials', message: `Konnektor: ${err.message}` };
      if (err instanceof KonnektorError && err.code === 'unavailable') return { ok: false, reason: 'unavailable', message: 'the Konnektor is not reachable, try again later' };
      if (!(err instanceof KonnektorError)) throw err;
    }
    const where = `${user.host}:${user.port}`;
    let client: Pop3Client;
    try {
      client = await Pop3Client.connect({ host: user.host, port: user.port, tls: 'implicit', ...this.opts.upstream, ...this.opts.clientCertificate?.(user.address), maxResponseSize: this.opts.maxMessageSize * 2 });
    } catch (err) {
      this.opts.logger.warn({ mta: where, err: errorMessage(err) }, 'upstream POP3 unreachable');
      return { ok: false, reason: 'unavailable', message: `mail service ${where} is not reachable, try again later` };
    }
    try {
      await client.login(user.address, req.password);
    } catch (err) {
      client.close();
      if (err instanceof Pop3ClientError && err.kind === 'rejected') return { ok: false, reason: 'credentials' };
      return { ok: false, reason: 'unavailable', message: `mail service ${where} failed during login, try again later` };
    }
    try {
      const [uids, sizes] = [await client.uidl(), await client.list()];
      const byN = new Map(sizes.map((s) => [s.n, s.size]));
      const entries = uids.filter((u) => byN.has(u.n)).map((u) => ({ n: u.n, uid: u.uid }));
      const drop = new ProxyMaildrop(client, user, entries, this.opts);
      await drop.announceSizes();
      return { ok: true, maildrop: drop, account: user.address };
    } catch (err) {
      client.close();
      this.opts.logger.warn({ mta: where, err: errorMessage(err) }, 'upstream POP3 listing failed');
      return { ok: false, reason: 'unavailable', message: 'the mailbox could not be read, try again later' };
    }
  }
}

/** Messages opened at once while a login works out the sizes (see announceSizes). */
const LOOKAHEAD = 3;

class ProxyMaildrop implements Pop3Maildrop {
  messages: Pop3Message[] = [];
  private readonly cache = new Map<number, Buffer>();
  /** Messages whose outcome this session noted already (LIST opens them, RETR may again). */
  private readonly noted = new Set<string>();
  private cachedBytes = 0;

  constructor(
    private readonly client: Pop3Client,
    private readonly user: kim.KimUserName,
    private readonly entries: ReadonlyArray<{ n: number; uid: string }>,
    private readonly opts: ClientModulePop3Options,
  ) {}

  /**
   * Works out every size the PS will be told, decrypting the messages not seen before. Up to
   * LOOKAHEAD of them are in progress at once: the upstream RETRs still run one after another
   * (one POP3 session), but the next one is fetched while the Konnektor opens the one before,
   * so a first login after much new mail does not pay fetch and decryption in turn.
   */
  async announceSizes(): Promise<void> {
    const sizes = this.entries.map((e) => this.opts.sizeCache.get(this.user.address, e.uid));
    const unknown = sizes.flatMap((s, i) => (s === undefined ? [i] : []));
    const inFlight: Array<Promise<Buffer>> = []; // oldest first; a finished one is dropped (its bytes may be large)
    const start = (k: number): void => {
      const p = this.present(unknown[k]!);
      p.catch(() => undefined); // awaited in order below; a failure behind a failure must not go unhandled
      inFlight.push(p);
    };
    for (let k = 0; k < Math.min(LOOKAHEAD, unknown.length); k++) start(k);
    for (let k = 0; k < unknown.length; k++) {
      const presented = await inFlight.shift()!;
      if (k + LOOKAHEAD < unknown.length) start(k + LOOKAHEAD);
      const i = unknown[k]!;
      sizes[i] = presented.length;
      this.opts.sizeCache.set(this.user.address, this.entries[i]!.uid, presented.length);
    }
    this.messages = this.entries.map((e, i) => ({ uid: e.uid, size: sizes[i]! }));
  }

  /** A kept message is handed out once and let go (a PS fetches each message once; a second RETR decrypts again). */
  async retrieve(index: number): Promise<Buffer> {
    const cached = this.cache.get(index);
    if (!cached) return this.present(index, false);
    this.forget(index, cached);
    return cached;
  }

  /** TOP goes upstream as TOP 0: a message that is not KOM-LE is cut upstream, a KOM-LE one here after decryption. */
  async top(index: number, lines: number): Promise<Buffer> {
    const e = this.entry(index);
    const cached = this.cache.get(index);
    if (cached) return pop3.extractTop(cached, lines);
    const head = await this.upstream(() => this.client.top(e.n, 0));
    const block = mime.readHeaderBlock(head);
    if (!mime.findField(block.fields, 'X-KOM-LE-Version')) return this.upstream(() => this.client.top(e.n, lines));
    return pop3.extractTop(await this.present(index), lines);
  }

  async commit(deleted: number[]): Promise<void> {
    for (const i of deleted) {
      const e = this.entry(i);
      await this.client.dele(e.n);
      this.opts.sizeCache.delete(this.user.address, e.uid);
    }
    await this.client.quit();
  }

  async release(): Promise<void> {
    this.opts.cacheBudget.give(this.cachedBytes);
    this.cachedBytes = 0;
    this.cache.clear();
    this.client.close();
  }

  private forget(index: number, presented: Buffer): void {
    this.cache.delete(index);
    this.cachedBytes -= presented.length;
    this.opts.cacheBudget.give(presented.length);
  }

  private entry(index: number): { n: number; uid: string } {
    const e = this.entries[index];
    if (!e) throw new RangeError(`no message at index ${index}`);
    return e;
  }

  /** Fetches, opens and presents one message; `keep`: hold it for the RETR to come if there is room. */
  private async present(index: number, keep = true): Promise<Buffer> {
    const raw = await this.upstream(() => this.client.retr(this.entry(index).n));
    const result = await openMessage(raw, { konnektor: this.opts.konnektor, context: this.user.context, recipientAddress: this.user.address });
    const presented = presentForPrimarySystem(raw, result, { note: this.opts.appendNote, integrityFailure: this.opts.integrityFailure, recipientAddress: this.user.address });
    this.note(index, result);
    if (result.komle && !result.ok) {
      this.opts.logger.warn({ account: this.user.address, uid: this.entry(index).uid, decryption: result.decryption, integrity: result.integrityResults, fehlermeldung: result.fehlermeldungen }, 'KOM-LE message failed a check');
    }
    if (keep && !this.cache.has(index) && this.cachedBytes + presented.length <= this.opts.sessionCacheBytes && this.opts.cacheBudget.take(presented.length)) {
      this.cache.set(index, presented);
      this.cachedBytes += presented.length;
    }
    return presented;
  }

  /** The outcome of one opened message for the console: outer From/To addresses and the X-KIM-* results, nothing of the content. */
  private note(index: number, r: Awaited<ReturnType<typeof openMessage>>): void {
    const uid = this.entry(index).uid;
    if (!this.opts.outcomes || this.noted.has(uid)) return;
    this.noted.add(uid);
    const addresses = (name: string) => mime.findFields(r.outerFields, name).flatMap((f) => f.value.match(/[^\s<>,;:"()]+@[^\s<>,;:"()]+/g) ?? []);
    const codes: Record<string, string | string[]> = {};
    if (r.decryption) codes['X-KIM-DecryptionResult'] = r.decryption;
    if (r.integrityResults.length) codes['X-KIM-IntegrityCheckResult'] = [...r.integrityResults];
    if (r.fehlermeldungen.length) codes['X-KIM-Fehlermeldung'] = [...r.fehlermeldungen];
    this.opts.outcomes.record({
      direction: 'receive',
      account: this.user.address,
      from: addresses('From')[0] ?? '',
      to: [...addresses('To'), ...addresses('Cc')],
      result: !r.komle || r.ok ? 'ok' : 'failed',
      codes,
      ...(!r.komle ? { error: 'not a KOM-LE message: passed on unchanged' } : r.versionUnsupported ? { error: `KOM-LE version ${r.komLeVersion ?? '?'} is not supported` } : {}),
    });
  }

  /** Upstream says the message is gone (another session deleted it): tell the PS so. */
  private async upstream<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof Pop3ClientError && err.kind === 'rejected') throw new Pop3MessageGoneError(`the mail service no longer has this message: ${err.serverText ?? ''}`.trim());
      throw err;
    }
  }
}
