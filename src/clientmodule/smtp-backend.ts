import type { OutcomeRing } from './outcomes.js';
import type { Logger } from '../core/index.js';
import { errorMessage } from '../core/index.js';
import { SmtpReply, type SmtpBackend, type SmtpEnvelope, type SmtpSession } from '../smtp/index.js';
import { kim, mime } from '../wire/index.js';
import { splitEnhancedStatus } from '../wire/smtp/index.js';
import { sealMessage, konnektorFor, KomleError, KonnektorError, type Konnektor, type EnvelopeRecipient, type SignatureKeyChoice } from '../crypto/index.js';
import { CertificateLookup, DirectoryUnavailableError, type DirectoryRecord, type EncryptionCertificate } from './cert-lookup.js';
import { UpstreamSmtp, UpstreamSmtpError, type UpstreamTarget } from './upstream-smtp.js';
import type { ClientCertificateFor } from './client-certificates.js';
import { buildDsn, type DroppedRecipient, type OutdatedClientModule } from './dsn.js';
import { judgeRecipient, planCopies, senderFieldProblem, usableWithKonnektor } from './send-plan.js';
import type { LoginPolicy } from './login-policy.js';
import { SenderVersionCheck } from './version-check.js';
import type { SendFehlercode } from './send-codes.js';
import type { AccountLimitClient, AccountLimits } from './account-limits.js';

export interface ClientModuleSmtpOptions {
  konnektor: Konnektor;
  lookup: CertificateLookup;
  /** Which account may use which call context; checked before anything else at AUTH. */
  policy: LoginPolicy;
  /** Upstream TLS trust and timeouts; host and port come from each user name. */
  upstream: Omit<UpstreamTarget, 'host' | 'port'>;
  /** The TLS client certificate presented upstream for an account (KOM-LE-A_2182-01); none: no certificate. */
  clientCertificate?: ClientCertificateFor;
  /** Our host name, for DSNs. */
  hostname: string;
  /** dataTimeToLive (days) for the Expires header when getLimits is not asked (no `limits`). */
  dataTimeToLiveDays: number;
  /** getLimits at the mail service (A_22416); absent: not asked, dataTimeToLiveDays applies and no maxMailSize check. */
  limits?: AccountLimitClient;
  /** Which OSIG key signs (`clientModule.signatureKey`; KOM-LE-A_2020: RSA). */
  signatureKey?: SignatureKeyChoice;
  logger: Logger;
  /** Where each message's outcome is noted for the console (addresses and codes only). */
  outcomes?: OutcomeRing;
}

/** What the client module holds for one primary-system SMTP session. */
interface PsSession {
  user: kim.KimUserName;
  /** Kept for the session only: the upstream login is repeated if the service drops us. */
  password: string;
  upstream: UpstreamSmtp | null;
  /** getLimits' answer for the current transaction (asked at MAIL FROM). */
  limits?: AccountLimits;
}

const NO_CERT = 'no usable encryption certificate in the directory';

/** One sealed message and the RCPTs it goes to: the copy for the To/Cc recipients, or one hidden recipient's. */
interface Copy {
  rcpts: string[];
  certificates: Map<string, EncryptionCertificate[]>;
}

/** A later copy's failure, for the DSN: why, in the sender's report. */
class CopyFailure extends Error {
  constructor(
    readonly code: SendFehlercode,
    readonly status: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The client module's send pipeline behind the SMTP edge (gemSpec_CM_KOMLE, docs/client-module.md):
 * AUTH with the KIM user name logs in at the mail service the name points to; RCPTs are
 * accepted without a lookup (KIM 1.5); after DATA one directory search per address gives its
 * certificates, Telematik-IDs and KOM-LE version; recipients that cannot be encrypted for are
 * dropped (from the envelope and from To/Cc), the sender's version is checked, and the message
 * is signed and encrypted through the Konnektor and sent upstream — one copy for the To/Cc
 * recipients and one of its own for each hidden one. Only the service's acceptance of the first
 * copy earns the PS its 250; what went wrong for single recipients reaches the sender as one DSN.
 */
export class ClientModuleSmtpBackend implements SmtpBackend {
  private readonly sessions = new Map<string, PsSession>();
  private readonly versionCheck: SenderVersionCheck;

  constructor(private readonly opts: ClientModuleSmtpOptions) {
    this.versionCheck = new SenderVersionCheck(opts.logger);
  }

  async authenticate(username: string, password: string, session: SmtpSession): Promise<string | null> {
    let user: kim.KimUserName;
    try {
      user = kim.parseKimUserName(username, 'smtp');
    } catch (err) {
      if (err instanceof kim.KimUserNameError) throw new SmtpReply(501, '5.5.4', err.message);
      throw err;
    }
    const verdict = this.opts.policy.check(user);
    if (!verdict.ok) {
      const c = user.context;
      this.opts.logger.warn({ sid: session.id, address: user.address, mta: `${user.host}:${user.port}`, mandant: c.mandantId, clientSystem: c.clientSystemId, workplace: c.workplaceId, why: verdict.why }, 'client module login refused');
      // 535 goes through the edge's failure path (counted, delayed, throttled) with this text.
      throw new SmtpReply(535, '5.7.8', verdict.text);
    }
    let upstream: UpstreamSmtp;
    try {
      upstream = await UpstreamSmtp.open({ ...this.opts.upstream, host: user.host, port: user.port, ...this.opts.clientCertificate?.(user.address) }, user.address, password);
    } catch (err) {
      if (err instanceof UpstreamSmtpError && err.kind === 'credentials') return null;
      this.opts.logger.warn({ sid: session.id, mta: `${user.host}:${user.port}`, err: errorMessage(err) }, 'upstream login failed');
      throw new SmtpReply(454, '4.7.0', `mail service ${user.host}:${user.port} is not reachable, try again later`);
    }
    this.sessions.get(session.id)?.upstream?.close();
    this.sessions.set(session.id, { user, password, upstream });
    return user.address;
  }

  async checkSender(address: string, _env: SmtpEnvelope, session: SmtpSession): Promise<void> {
    const s = this.sessions.get(session.id);
    if (!s) throw new SmtpReply(530, '5.7.0', 'Authentication required');
    if (address.toLowerCase() !== s.user.address.toLowerCase()) {
      throw new SmtpReply(553, '5.7.1', `<${address}>: the sender must be the KIM address of the login (${s.user.address})`);
    }
    // A_22416: the limits are asked for each message sent (from the cache while it holds them);
    // a SIZE= above maxMailSize is refused here, before any byte of it is sent (A_19355-01).
    if (this.opts.limits) {
      s.limits = await this.opts.limits.limits(s.user.host, s.user.address, s.password);
      if (_env.declaredSize !== undefined && _env.declaredSize > s.limits.maxMailSize) throw tooBig(s.limits.maxMailSize);
    }
  }

  async checkRecipient(address: string): Promise<void> {
    // KIM 1.5: recipients are accepted now and checked after DATA, when all are known.
    if (!/^[^@\s<>]+@[^@\s<>]+$/.test(address)) throw new SmtpReply(553, '5.1.3', `<${address}>: not a valid mail address`);
  }

  async deliver(envelope: SmtpEnvelope, session: SmtpSession, body: AsyncIterable<Buffer>): Promise<string> {
    const dropped: DroppedRecipient[] = [];
    const note = (result: 'ok' | 'partial' | 'failed', error?: string) =>
      this.opts.outcomes?.record({
        direction: 'send',
        account: this.sessions.get(session.id)?.user.address ?? envelope.mailFrom,
        from: envelope.mailFrom,
        to: envelope.rcptTo,
        result,
        // X-KIM-Fehlermeldung codes of the recipients the DSN names (Tab_Fehlercodes_KOMLE-Clientmodule).
        codes: dropped.length ? { 'X-KIM-Fehlermeldung': dropped.map((d) => `${d.address}: ${d.code}`) } : {},
        ...(error !== undefined ? { error } : {}),
      });
    try {
      const answer = await this.sealAndSend(envelope, session, body, dropped);
      note(dropped.length ? 'partial' : 'ok', dropped.length ? `${dropped.length} recipient(s) dropped: ${dropped.map((d) => `${d.address} (${d.diagnostic})`).join('; ')}` : undefined);
      return answer;
    } catch (err) {
      note('failed', err instanceof SmtpReply ? `${err.code} ${err.message}` : 'internal error');
      throw err;
    }
  }

  /** `dropped` collects the recipients the sender's DSN will name (also when the whole message fails later). */
  private async sealAndSend(envelope: SmtpEnvelope, session: SmtpSession, body: AsyncIterable<Buffer>, dropped: DroppedRecipient[]): Promise<string> {
    const s = this.sessions.get(session.id);
    if (!s) throw new SmtpReply(530, '5.7.0', 'Authentication required');
    // The lookups need only the envelope: they run while the body is still arriving, and all
    // at once (each is a cache hit or one LDAP round trip).
    const addresses = unique(envelope.rcptTo);
    const lookups = Promise.all([s.user.address, ...addresses].map((a) => this.lookup(a)));
    lookups.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
    const message = await collect(body);
    // A_19355-01: the message the PS handed over, against getLimits' maxMailSize (X.3.4).
    if (s.limits && message.length > s.limits.maxMailSize) throw tooBig(s.limits.maxMailSize);
    const arrival = new Date();
    const log = this.opts.logger.child({ sid: session.id, from: s.user.address });

    const eccCapable = konnektorFor(this.opts.konnektor, s.user.context).eccCapable;
    const [sender, ...records] = (await lookups).map((r) => usableWithKonnektor(r, eccCapable));
    if (sender!.certificates.length === 0) throw new SmtpReply(553, '5.7.1', `<${s.user.address}>: the sender has ${NO_CERT}; the message cannot be encrypted for the sender's own copy`);

    const certificates = new Map<string, EncryptionCertificate[]>();
    for (const [i, address] of addresses.entries()) {
      const v = judgeRecipient(records[i]!);
      if (v.ok) certificates.set(address, v.certificates);
      else dropped.push({ address, code: v.code, status: v.status, diagnostic: v.diagnostic });
    }
    // KOM-LE-A_2025: nobody to encrypt for: nothing goes upstream.
    if (certificates.size === 0) throw new SmtpReply(451, '4.7.0', `no recipient can be encrypted for (${dropped.map((d) => `${d.address}: ${d.diagnostic}`).join('; ')})`);
    const outdated = this.versionCheck.check(s.user.address, sender!.komLeVersion);

    let block: mime.HeaderBlock;
    try {
      block = mime.readHeaderBlock(message);
    } catch (err) {
      throw new SmtpReply(554, '5.6.0', `the message cannot be read: ${errorMessage(err)}`);
    }
    const senderProblem = senderFieldProblem(block, s.user.address);
    if (senderProblem) {
      log.warn({ why: 'sender field' }, 'message refused: From or Sender is not the login\'s address');
      throw new SmtpReply(550, '5.7.1', senderProblem);
    }
    const plan = planCopies(message, block, [...certificates.keys()], s.user.address);
    const copies: Copy[] = [];
    if (plan.visible.length) copies.push({ rcpts: plan.visible, certificates });
    for (const h of plan.hidden) copies.push({ rcpts: [h], certificates });

    const accepted: string[] = [];
    let sealedBytes = 0;
    for (const [i, copy] of copies.entries()) {
      // The first copy decides the PS's answer; a later one that fails is the DSN's business,
      // since the PS must not send again what others have already been given.
      try {
        const sealed = await this.seal(s, plan.inner, sender!, copy, arrival, log, i > 0);
        sealedBytes += sealed.message.length;
        const result = await this.sendUpstream(s, s.user.address, copy.rcpts, sealed.message, sealed.bodyStart, i > 0, envelope.notify);
        accepted.push(...result.accepted);
        for (const r of result.rejected) dropped.push({ address: r.address, code: 'X01', status: r.code && r.code < 500 ? '4.0.0' : '5.0.0', diagnostic: `refused by the mail service: ${r.response}` });
      } catch (err) {
        if (!(err instanceof CopyFailure)) throw err;
        log.warn({ rcpts: copy.rcpts, err: err.message }, 'a hidden recipient\'s copy was not sent');
        for (const a of copy.rcpts) dropped.push({ address: a, code: err.code, status: err.status, diagnostic: err.message });
      }
    }
    if (dropped.length > 0 || outdated) await this.sendDsn(s, { dropped, sent: accepted, outdated }, message, arrival, log);
    log.info(
      { rcpts: accepted.length, copies: copies.length, hidden: plan.hidden.length, dropped: dropped.length, removedFromHeader: plan.removed.length, outdated: !!outdated, bytes: message.length, sealedBytes },
      'message sealed and sent',
    );
    const notes = [plan.hidden.length ? `${plan.hidden.length} in separate copies` : '', dropped.length ? `${dropped.length} dropped (see the report)` : ''].filter(Boolean);
    return `Ok: signed, encrypted and sent to ${accepted.length} recipient(s)${notes.length ? `, ${notes.join(', ')}` : ''}`;
  }

  /**
   * Signs and encrypts one copy for its recipients' certificates and every certificate of the
   * sender (KOM-LE-A_2022). For the first copy a failure is the PS's answer (SmtpReply); for a
   * later one (`later`) a CopyFailure for the DSN.
   */
  private async seal(s: PsSession, inner: Buffer, sender: DirectoryRecord, copy: Copy, now: Date, log: Logger, later: boolean) {
    const recipients: EnvelopeRecipient[] = [];
    for (const a of copy.rcpts) for (const c of copy.certificates.get(a)!) recipients.push({ certDer: c.der, email: a });
    for (const c of sender.certificates) recipients.push({ certDer: c.der, email: s.user.address });
    try {
      return await sealMessage(inner, {
        konnektor: this.opts.konnektor,
        context: s.user.context,
        senderEmail: s.user.address,
        recipients,
        // A_22417: Expires = send time + the account's dataTimeToLive, as getLimits gave it.
        dataTimeToLiveDays: s.limits?.dataTimeToLive ?? this.opts.dataTimeToLiveDays,
        signatureKey: this.opts.signatureKey,
        now,
      });
    } catch (err) {
      if (err instanceof KomleError && err.code === 'invalid-message') throw new SmtpReply(554, '5.6.0', `the message cannot be read: ${err.message}`);
      log.warn({ err: errorMessage(err) }, 'signing or encryption failed');
      const why = err instanceof KonnektorError ? `the Konnektor could not sign: ${err.message}` : 'the message could not be signed and encrypted';
      if (later) throw new CopyFailure('X02', '4.7.0', why);
      throw new SmtpReply(451, '4.7.0', why);
    }
  }

  sessionClosed(session: SmtpSession): void {
    const s = this.sessions.get(session.id);
    if (!s) return;
    this.sessions.delete(session.id);
    s.upstream?.close();
    s.password = '';
  }

  private async lookup(address: string): Promise<DirectoryRecord> {
    try {
      return await this.opts.lookup.lookup(address);
    } catch (err) {
      if (err instanceof DirectoryUnavailableError) throw new SmtpReply(451, '4.4.3', 'the directory cannot be reached to look up encryption certificates, try again later');
      throw err;
    }
  }

  /**
   * Sends over the session's upstream connection, logging in again if the service dropped it.
   * `cleanFrom`: see SmtpClient.send; `notify`: the PS's NOTIFY= per recipient, passed on (the
   * Fachdienst reports success, Primaersystem.adoc "Verwendung von Zustellbestätigungen"). Failures are SmtpReplys for the PS, or with `later`
   * CopyFailures for the DSN (X01: the service refused, X02: it could not be reached).
   */
  private async sendUpstream(s: PsSession, from: string, to: string[], message: Buffer, cleanFrom?: number, later = false, notify?: ReadonlyMap<string, readonly string[]>) {
    for (let attempt = 0; ; attempt++) {
      try {
        if (!s.upstream?.usable) s.upstream = await UpstreamSmtp.open({ ...this.opts.upstream, host: s.user.host, port: s.user.port }, s.user.address, s.password);
        return await s.upstream.send(from, to, message, cleanFrom, notify);
      } catch (err) {
        if (!(err instanceof UpstreamSmtpError)) throw err;
        if (err.kind === 'rejected') {
          // The service's own enhanced code goes on where it gave one of the reply's class.
          const code = err.reply?.code ?? 451;
          const split = err.reply ? splitEnhancedStatus(err.reply) : undefined;
          const enhanced = split?.status ?? (code >= 500 ? '5.0.0' : '4.0.0');
          if (later) throw new CopyFailure('X01', enhanced, `refused by the mail service: ${err.message}`);
          throw new SmtpReply(code, enhanced, `mail service: ${split?.text ?? err.message}`);
        }
        if (err.kind === 'broken' && attempt === 0) continue;
        if (later) throw new CopyFailure('X02', '4.4.1', `the mail service could not be reached: ${err.message}`);
        if (err.kind === 'credentials') throw new SmtpReply(451, '4.7.0', 'the mail service no longer accepts the login, try again later');
        throw new SmtpReply(451, '4.4.1', `mail service ${s.user.host}:${s.user.port} is not reachable, try again later`);
      }
    }
  }

  /** The one report about a sent message (dropped recipients, outdated client module) to the sender's own mailbox. */
  private async sendDsn(
    s: PsSession,
    report: { dropped: DroppedRecipient[]; sent: string[]; outdated: OutdatedClientModule | null },
    original: Buffer,
    arrival: Date,
    log: Logger,
  ): Promise<void> {
    try {
      const block = mime.readHeaderBlock(original);
      const dsn = buildDsn({ to: s.user.address, reportingMta: this.opts.hostname, ...report, originalHeader: original.subarray(0, block.bodyStart), arrivalDate: arrival });
      await this.sendUpstream(s, s.user.address, [s.user.address], dsn);
    } catch (err) {
      // The message itself went out; a lost report must not turn that into a failure.
      log.warn({ err: errorMessage(err), dropped: report.dropped.map((d) => d.address) }, 'could not deliver the DSN to the sender');
    }
  }
}

/** A_19355-01: X.3.4 (message too big for system), permanent: sending it again will not help. */
function tooBig(maxMailSize: number): SmtpReply {
  return new SmtpReply(552, '5.3.4', `the message is larger than the account's maxMailSize (${maxMailSize} bytes)`);
}

/** The whole body as one buffer; copied only when it came in more than one chunk. */
async function collect(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const c of body) {
    chunks.push(c);
    length += c.length;
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
}

function unique(addresses: string[]): string[] {
  const seen = new Set<string>();
  return addresses.filter((a) => {
    const k = a.toLowerCase();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
