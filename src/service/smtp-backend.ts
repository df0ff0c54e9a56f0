import type { SmtpBackend, SmtpEnvelope, SmtpSession } from '../smtp/index.js';
import { replies } from '../smtp/index.js';
import type { Accounts } from './accounts.js';
import { domainOf, parseAddress } from './addresses.js';
import { LocalDelivery } from './delivery.js';
import { QuotaExceededError } from './mailboxes.js';
import { DeliveryRefused, type FilingHandler, type RecipientHandler } from './recipient-handler.js';
import { SmtpReply } from '../smtp/index.js';
import type { LoginCheck } from './login-check.js';
import { newQueueId } from './delivery.js';
import type { MessageTrace, TraceRefusal, TraceSession } from './trace.js';
import { tapHeader, type MailRules, type TappedHeader } from './mail-rules/index.js';

/** Archive integration: who checks AUTH, and the journal account that gets a copy of everything delivered. */
export interface SmtpBackendIntegration {
  logins?: LoginCheck;
  journalAddress?: string;
}

/** Relaying for submission: who queues recipients in other domains, and how many one message may have. */
export interface RelayPolicy {
  handler: FilingHandler;
  maxRecipients: number;
}

export interface ServiceSmtpBackendOptions {
  /** Mail-in databases, when the mailin module is wired in. */
  handler?: RecipientHandler | undefined;
  integration?: SmtpBackendIntegration | undefined;
  /** Relaying to other providers (submission only); absent: 554 5.7.1 for other domains. */
  relay?: RelayPolicy | undefined;
  /**
   * Submission only: a session that does not AUTH is another provider delivering to local
   * accounts, under the MX rules (KOM-LE providers hand mail to each other on port 465, the
   * submission port). False: such a session gets 530 5.7.0.
   */
  acceptFromProviders?: boolean | undefined;
  /** The message trace (service/trace.ts), when on. */
  trace?: MessageTrace | undefined;
  /** The KIM Fachdienst's mail rules (sender checks, success DSNs, autoreplies), when on. */
  rules?: MailRules | undefined;
}

/** A session's current transaction as the trace sees it: the sender and what was refused so far. */
interface TracedTransaction {
  mailFrom: string;
  refused: TraceRefusal[];
}

/**
 * The service's mail policy behind both SMTP listeners.
 * - 'mx': mail from other providers; only local recipients, never relays (no open relay), no AUTH.
 * - 'submission': an account's own mail; AUTH required, the sender must be that account;
 *   recipients in other domains are queued for relaying when `relay` is given. With
 *   `acceptFromProviders`, a session without AUTH is treated as on 'mx' instead.
 */
export class ServiceSmtpBackend implements SmtpBackend {
  private readonly handler: RecipientHandler | undefined;
  private readonly integration: SmtpBackendIntegration;
  private readonly relay: RelayPolicy | undefined;
  private readonly acceptFromProviders: boolean;
  private readonly trace: MessageTrace | undefined;
  private readonly rules: MailRules | undefined;
  /** By session id: refusals are recorded with the transaction's message, or on their own when it ends without one. */
  private readonly transactions = new Map<string, TracedTransaction>();

  constructor(
    private readonly mode: 'mx' | 'submission',
    private readonly accounts: Accounts,
    private readonly delivery: LocalDelivery,
    opts: ServiceSmtpBackendOptions = {},
  ) {
    this.handler = opts.handler;
    this.integration = opts.integration ?? {};
    this.relay = mode === 'submission' ? opts.relay : undefined;
    this.acceptFromProviders = mode === 'submission' && opts.acceptFromProviders === true;
    this.trace = opts.trace;
    this.rules = opts.rules;
  }

  private traceSession(session: SmtpSession): TraceSession {
    return { listener: session.listener, clientIp: session.remoteAddress, tls: session.tls, authUser: session.user };
  }

  /** The transaction ended without a message (RSET, a new MAIL, QUIT): its refusals are traced on their own. */
  private endTransaction(session: SmtpSession, env?: { rcptTo: string[] }, refusal?: TraceRefusal): void {
    const t = this.transactions.get(session.id);
    this.transactions.delete(session.id);
    if (!this.trace || !t) return;
    const refused = refusal ? [...t.refused, refusal] : t.refused;
    if (refused.length === 0) return;
    this.trace.refused({ queueId: newQueueId(), mailFrom: t.mailFrom, recipients: env?.rcptTo ?? [], refused, session: this.traceSession(session) });
  }

  /** Runs a check; a refusal is remembered for the trace. */
  private async traced(session: SmtpSession, recipient: string | undefined, check: () => Promise<void>): Promise<void> {
    try {
      await check();
    } catch (err) {
      if (this.trace && err instanceof SmtpReply) {
        const t = this.transactions.get(session.id);
        const r: TraceRefusal = { ...(recipient !== undefined ? { recipient } : {}), code: err.code, text: `${err.enhanced} ${err.text}` };
        if (t) t.refused.push(r);
      }
      throw err;
    }
  }

  sessionClosed(session: SmtpSession): void {
    this.endTransaction(session);
  }

  /** A session under the MX rules: on 'mx', or a provider's session (no AUTH) on submission. */
  private fromProvider(session: SmtpSession): boolean {
    return this.mode === 'mx' || (this.acceptFromProviders && !session.user);
  }

  async authenticate(username: string, password: string): Promise<string | null> {
    if (this.mode !== 'submission') return null;
    const account = await (this.integration.logins ?? this.accounts).authenticate(username, password);
    return account ? account.address : null;
  }

  /** A login-cache hit of an account's own password; a user source (integration) is always asked in full. */
  async authenticateCached(username: string, password: string): Promise<string | undefined> {
    if (this.mode !== 'submission' || this.integration.logins) return undefined;
    return (await this.accounts.authenticateCached(username, password))?.address;
  }

  async checkSender(address: string, env: SmtpEnvelope, session: SmtpSession): Promise<void> {
    if (this.trace) {
      this.endTransaction(session);
      this.transactions.set(session.id, { mailFrom: address, refused: [] });
    }
    return this.traced(session, undefined, () => this.checkSenderNow(address, env, session));
  }

  private async checkSenderNow(address: string, _env: SmtpEnvelope, session: SmtpSession): Promise<void> {
    if (this.fromProvider(session)) {
      if (address !== '' && !parseAddress(address)) throw replies.badAddress(address);
      return;
    }
    if (!session.user) throw replies.authRequired();
    const parsed = parseAddress(address);
    if (!parsed || parsed.address !== session.user) throw replies.senderNotOwned(address);
  }

  checkRecipient(address: string, env: SmtpEnvelope, session: SmtpSession): Promise<void> {
    return this.traced(session, address, () => this.checkRecipientNow(address, env, session));
  }

  private async checkRecipientNow(address: string, env: SmtpEnvelope, session: SmtpSession): Promise<void> {
    const parsed = parseAddress(address);
    if (!parsed) throw replies.badAddress(address);
    const { localDomain, account } = await this.accounts.recipient(parsed.address);
    if (!localDomain) {
      // Only an authenticated account's mail is relayed: never a provider's (no open relay).
      if (this.fromProvider(session)) throw replies.relayDenied(address);
      return this.checkRelayed(address, env);
    }
    if (!account) {
      if (this.handler && (await this.handler.accepts(parsed.address))) return;
      throw replies.unknownUser(address);
    }
    if (account.disabled) throw replies.disabled(address);
    if (account.quotaBytes > 0) {
      const incoming = env.declaredSize ?? 0;
      if (account.usedBytes >= account.quotaBytes || account.usedBytes + incoming > account.quotaBytes) throw replies.mailboxFull(address);
    }
  }

  /** A recipient in another domain: queued only on submission with relaying on, and up to its limit. */
  private async checkRelayed(address: string, env: SmtpEnvelope): Promise<void> {
    if (!this.relay) throw replies.relayDenied(address);
    const local = await this.accounts.localDomains(env.rcptTo.map(domainOf));
    const relayed = env.rcptTo.filter((r) => !local.has(domainOf(r))).length;
    if (relayed >= this.relay.maxRecipients) throw new SmtpReply(452, '4.5.3', `Too many recipients in other domains: at most ${this.relay.maxRecipients} per message`);
  }

  async deliver(env: SmtpEnvelope, session: SmtpSession, body: AsyncIterable<Buffer>): Promise<string> {
    if (!this.trace) return this.deliverNow(env, session, body);
    try {
      const text = await this.deliverNow(env, session, body);
      this.transactions.delete(session.id);
      return text;
    } catch (err) {
      this.endTransaction(session, env, err instanceof SmtpReply ? { code: err.code, text: `${err.enhanced} ${err.text}` } : { code: 451, text: 'not accepted' });
      throw err;
    }
  }

  private async deliverNow(env: SmtpEnvelope, session: SmtpSession, body: AsyncIterable<Buffer>): Promise<string> {
    const ids: number[] = [];
    const mailboxes = new Map<number, string>();
    const mailin: string[] = [];
    const relayed: string[] = [];
    // Checked at RCPT time; looked up again (all in one statement) because an account may have gone since.
    const accounts = await this.accounts.findAll(env.rcptTo);
    const others = env.rcptTo.filter((r) => !accounts.has(parseAddress(r)?.address ?? ''));
    const local = others.length > 0 ? await this.accounts.localDomains(others.map(domainOf)) : new Set<string>();
    for (const rcpt of env.rcptTo) {
      const parsed = parseAddress(rcpt);
      if (!parsed) throw replies.badAddress(rcpt);
      const account = accounts.get(parsed.address);
      if (account && !account.disabled) {
        ids.push(account.id);
        mailboxes.set(account.id, account.address);
      }
      else if (account) throw replies.unknownUser(rcpt);
      else if (!local.has(parsed.domain)) {
        if (!this.relay || this.fromProvider(session)) throw replies.relayDenied(rcpt);
        // One queue row per recipient, however often RCPT named it.
        if (!relayed.includes(parsed.address)) relayed.push(parsed.address);
      }
      // Not an account: it was the handler's at RCPT; the handler checks again when it files
      // (and refuses with 550 5.1.1 what is no longer there), so it is not asked twice.
      else if (this.handler) mailin.push(rcpt.toLowerCase());
      else throw replies.unknownUser(rcpt);
    }
    await this.addJournal(ids, mailboxes);
    const handled = [
      ...(this.handler && mailin.length ? [{ handler: this.handler, recipients: mailin }] : []),
      ...(this.relay && relayed.length ? [{ handler: this.relay.handler, recipients: relayed }] : []),
    ];
    // The rules read the message's header as it streams in: A_23422 refuses before anything is
    // written (an account's own submission only: other providers' mail was checked at theirs).
    const rules = this.rules;
    let header: TappedHeader | undefined;
    const checkOriginators = rules?.checksSenders === true && !this.fromProvider(session);
    const tapped = rules
      ? tapHeader(body, async (h) => {
          header = h;
          if (!checkOriginators) return;
          const v = await rules.originatorViolation(env.mailFrom, env.rcptTo, h);
          if (v) throw new SmtpReply(550, '5.7.1', `Sender integrity (A_23422): ${v.text}`);
        })
      : body;
    const notify = env.notify && new Map([...env.notify].map(([k, v]) => [parseAddress(k)?.address ?? k, v] as const));
    try {
      const accepted = await this.delivery.accept({
        mailFrom: env.mailFrom,
        accountIds: ids,
        recipients: env.rcptTo,
        trace: {
          heloName: session.heloName,
          clientHostname: session.clientHostname,
          clientAddress: session.remoteAddress,
          protocol: session.protocol,
          tls: session.tls,
        },
        body: tapped,
        handled,
        notify,
        ...(this.trace
          ? { traced: { session: this.traceSession(session), refused: this.transactions.get(session.id)?.refused ?? [], mailboxes, relayed, mailin } }
          : {}),
      });
      if (rules && header) {
        // Before the 250, so that a sender that sees it also finds its DSN; afterDelivery never
        // throws (the message is taken: a failed notice must not make the client send it again).
        // The journal is nobody's recipient: it neither asks for DSNs nor answers.
        const delivered = env.rcptTo.flatMap((r) => {
          const a = accounts.get(parseAddress(r)?.address ?? '');
          return a && !a.disabled ? [{ id: a.id, address: a.address }] : [];
        });
        await rules.afterDelivery({ queueId: accepted.queueId, mailFrom: env.mailFrom, receivedAt: accepted.receivedAt, delivered: [...new Map(delivered.map((d) => [d.id, d])).values()], notify, header });
      }
      return `Ok: queued as ${accepted.queueId}`;
    } catch (err) {
      if (err instanceof QuotaExceededError) {
        // A full journal is the platform's problem, not the sender's: temporary, and its address stays private.
        if (err.address === this.integration.journalAddress?.toLowerCase()) throw new SmtpReply(452, '4.3.1', 'Insufficient system storage, try again later');
        throw replies.mailboxFull(err.address);
      }
      if (err instanceof DeliveryRefused) throw new SmtpReply(err.smtpCode, err.enhanced, err.text);
      throw err;
    }
  }

  /**
   * The journal copy is filed in the same transaction as the recipients' copies. Without its
   * account the message is not taken (4.3.0, the sender retries): a journal with gaps would
   * be worse than a delay.
   */
  private async addJournal(ids: number[], mailboxes: Map<number, string>): Promise<void> {
    const address = this.integration.journalAddress;
    if (!address) return;
    const journal = await this.accounts.find(address);
    if (!journal) throw new SmtpReply(451, '4.3.0', 'Journal mailbox unavailable, try again later');
    if (!ids.includes(journal.id)) ids.push(journal.id);
    mailboxes.set(journal.id, journal.address);
  }
}
