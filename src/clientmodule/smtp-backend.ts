import type { Logger } from '../core/index.js';
import { errorMessage } from '../core/index.js';
import { SmtpReply, type SmtpBackend, type SmtpEnvelope, type SmtpSession } from '../smtp/index.js';
import { kim, mime } from '../wire/index.js';
import { sealMessage, KomleError, KonnektorError, type Konnektor, type EnvelopeRecipient } from '../crypto/index.js';
import { CertificateLookup, DirectoryUnavailableError } from './cert-lookup.js';
import { UpstreamSmtp, UpstreamSmtpError, type UpstreamTarget } from './upstream-smtp.js';
import { buildDsn, type DroppedRecipient } from './dsn.js';

export interface ClientModuleSmtpOptions {
  konnektor: Konnektor;
  lookup: CertificateLookup;
  /** Upstream TLS trust and timeouts; host and port come from each user name. */
  upstream: Omit<UpstreamTarget, 'host' | 'port'>;
  /** Our host name, for DSNs. */
  hostname: string;
  dataTimeToLiveDays: number;
  logger: Logger;
}

/** What the client module holds for one primary-system SMTP session. */
interface PsSession {
  user: kim.KimUserName;
  /** Kept for the session only: the upstream login is repeated if the service drops us. */
  password: string;
  upstream: UpstreamSmtp | null;
}

const NO_CERT = 'no usable encryption certificate in the directory';

/**
 * The client module's send pipeline behind the SMTP edge (gemSpec_CM_KOMLE): AUTH with the KIM
 * user name logs in at the mail service the name points to; RCPTs are accepted without a
 * lookup (KIM 1.5); after DATA every address's ENC certificates are looked up, unreachable
 * recipients are dropped with a DSN to the sender, the message is signed and encrypted through
 * the Konnektor and sent upstream, and only the service's acceptance earns the PS its 250.
 */
export class ClientModuleSmtpBackend implements SmtpBackend {
  private readonly sessions = new Map<string, PsSession>();

  constructor(private readonly opts: ClientModuleSmtpOptions) {}

  async authenticate(username: string, password: string, session: SmtpSession): Promise<string | null> {
    let user: kim.KimUserName;
    try {
      user = kim.parseKimUserName(username, 'smtp');
    } catch (err) {
      if (err instanceof kim.KimUserNameError) throw new SmtpReply(501, '5.5.4', err.message);
      throw err;
    }
    let upstream: UpstreamSmtp;
    try {
      upstream = await UpstreamSmtp.open({ ...this.opts.upstream, host: user.host, port: user.port }, user.address, password);
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
  }

  async checkRecipient(address: string): Promise<void> {
    // KIM 1.5: recipients are accepted now and checked after DATA, when all are known.
    if (!/^[^@\s<>]+@[^@\s<>]+$/.test(address)) throw new SmtpReply(553, '5.1.3', `<${address}>: not a valid mail address`);
  }

  async deliver(envelope: SmtpEnvelope, session: SmtpSession, body: AsyncIterable<Buffer>): Promise<string> {
    const s = this.sessions.get(session.id);
    if (!s) throw new SmtpReply(530, '5.7.0', 'Authentication required');
    // The lookups need only the envelope: they run while the body is still arriving, and all
    // at once (each is a cache hit or one LDAP round trip).
    const addresses = unique(envelope.rcptTo);
    const lookups = Promise.all([s.user.address, ...addresses].map((a) => this.lookup(a)));
    lookups.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
    const message = await collect(body);
    const arrival = new Date();
    const log = this.opts.logger.child({ sid: session.id, from: s.user.address });

    const [senderCerts, ...rcptCerts] = await lookups;
    if (senderCerts!.length === 0) throw new SmtpReply(553, '5.7.1', `<${s.user.address}>: the sender has ${NO_CERT}; the message cannot be encrypted for the sender's own copy`);

    const recipients: EnvelopeRecipient[] = [];
    const reachable: string[] = [];
    const dropped: DroppedRecipient[] = [];
    for (const [i, address] of addresses.entries()) {
      const certs = rcptCerts[i]!;
      if (certs.length === 0) {
        dropped.push({ address, status: '5.7.0', diagnostic: NO_CERT });
        continue;
      }
      reachable.push(address);
      for (const c of certs) recipients.push({ certDer: c.der, email: address });
    }
    if (reachable.length === 0) {
      throw new SmtpReply(451, '4.7.0', `no recipient can be encrypted for (${dropped.map((d) => d.address).join(', ')}: ${NO_CERT})`);
    }

    let sealed: { message: Buffer; bodyStart: number };
    try {
      sealed = await sealMessage(message, {
        konnektor: this.opts.konnektor,
        context: s.user.context,
        senderEmail: s.user.address,
        recipients,
        dataTimeToLiveDays: this.opts.dataTimeToLiveDays,
        now: arrival,
      });
    } catch (err) {
      if (err instanceof KomleError && err.code === 'invalid-message') throw new SmtpReply(554, '5.6.0', `the message cannot be read: ${err.message}`);
      log.warn({ err: errorMessage(err) }, 'signing or encryption failed');
      const why = err instanceof KonnektorError ? `the Konnektor could not sign: ${err.message}` : 'the message could not be signed and encrypted';
      throw new SmtpReply(451, '4.7.0', why);
    }

    const result = await this.sendUpstream(s, s.user.address, reachable, sealed.message, sealed.bodyStart);
    for (const r of result.rejected) dropped.push({ address: r.address, status: '5.0.0', diagnostic: `refused by the mail service: ${r.response}` });
    if (dropped.length > 0) await this.sendDsn(s, dropped, message, arrival, log);
    log.info({ rcpts: result.accepted.length, dropped: dropped.length, bytes: message.length, sealedBytes: sealed.message.length }, 'message sealed and sent');
    return `Ok: signed, encrypted and sent to ${result.accepted.length} recipient(s)${dropped.length ? `, ${dropped.length} dropped (see the report)` : ''}`;
  }

  sessionClosed(session: SmtpSession): void {
    const s = this.sessions.get(session.id);
    if (!s) return;
    this.sessions.delete(session.id);
    s.upstream?.close();
    s.password = '';
  }

  private async lookup(address: string) {
    try {
      return await this.opts.lookup.encryptionCertificates(address);
    } catch (err) {
      if (err instanceof DirectoryUnavailableError) throw new SmtpReply(451, '4.4.3', 'the directory cannot be reached to look up encryption certificates, try again later');
      throw err;
    }
  }

  /** Sends over the session's upstream connection, logging in again if the service dropped it. `cleanFrom`: see SmtpClient.send. */
  private async sendUpstream(s: PsSession, from: string, to: string[], message: Buffer, cleanFrom?: number) {
    for (let attempt = 0; ; attempt++) {
      try {
        if (!s.upstream?.usable) s.upstream = await UpstreamSmtp.open({ ...this.opts.upstream, host: s.user.host, port: s.user.port }, s.user.address, s.password);
        return await s.upstream.send(from, to, message, cleanFrom);
      } catch (err) {
        if (!(err instanceof UpstreamSmtpError)) throw err;
        if (err.kind === 'rejected') {
          const code = err.responseCode ?? 451;
          const enhanced = /^\d{3}[ -](\d\.\d{1,3}\.\d{1,3})/.exec(err.response ?? '')?.[1] ?? (code >= 500 ? '5.0.0' : '4.0.0');
          const text = (err.response ?? err.message).replace(/^\d{3}[ -](\d\.\d{1,3}\.\d{1,3} )?/, '');
          throw new SmtpReply(code, enhanced, `mail service: ${text}`);
        }
        if (err.kind === 'broken' && attempt === 0) continue;
        if (err.kind === 'credentials') throw new SmtpReply(451, '4.7.0', 'the mail service no longer accepts the login, try again later');
        throw new SmtpReply(451, '4.4.1', `mail service ${s.user.host}:${s.user.port} is not reachable, try again later`);
      }
    }
  }

  private async sendDsn(s: PsSession, dropped: DroppedRecipient[], original: Buffer, arrival: Date, log: Logger): Promise<void> {
    try {
      const block = mime.readHeaderBlock(original);
      const dsn = buildDsn({ to: s.user.address, reportingMta: this.opts.hostname, dropped, originalHeader: original.subarray(0, block.bodyStart), arrivalDate: arrival });
      await this.sendUpstream(s, s.user.address, [s.user.address], dsn);
    } catch (err) {
      // The message itself went out; a lost report must not turn that into a failure.
      log.warn({ err: errorMessage(err), dropped: dropped.map((d) => d.address) }, 'could not deliver the DSN for dropped recipients');
    }
  }
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
