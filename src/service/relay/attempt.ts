import { SmtpClient, SmtpClientError, type StreamedMessage } from '../../smtp/index.js';
import { formatSmtpReply, splitEnhancedStatus, type SmtpClientReply } from '../../wire/smtp/index.js';
import type { RelayTarget } from './routes.js';
import type { SessionCache } from './session-cache.js';

/** What became of one recipient in one attempt. */
export interface RecipientResult {
  result: 'delivered' | 'failed' | 'deferred';
  /** Enhanced status code (RFC 3463). */
  status: string;
  /** For the DSN's Diagnostic-Code: `smtp` with the peer's reply, or `x-postamt` with ours. */
  diagnostic: { type: string; text: string };
  /** The host that answered, when one did. */
  remoteMta?: string;
}

export interface AttemptOptions {
  heloName: string;
  timeoutMs: number;
  dataTimeoutMs: number;
  /** No further host is tried after this time (the attempt must end inside its lease). */
  deadline: number;
  /** Sessions kept open from earlier transactions, and where this one's session goes after it. */
  sessions?: SessionCache | undefined;
}

/** One line per host tried, for the log (no bodies, no addresses beyond counts). */
export interface HostAttempt {
  host: string;
  port: number;
  tls: string;
  /** The peer's reply code, or what broke (network, tls, timeout, protocol). */
  code: number | string;
  delivered: number;
  failed: number;
  deferred: number;
  ms: number;
}

/**
 * One attempt to hand a message to another provider for some recipients: the targets in turn
 * until one takes a transaction. A host that cannot be reached, fails TLS or breaks off is
 * skipped for the next; a host that answers decides for each recipient — 2xx delivered, 5xx
 * failed, 4xx deferred. When no host answered, everyone is deferred with the last problem.
 */
export async function attemptDelivery(
  targets: readonly RelayTarget[],
  envelope: { from: string; to: readonly string[]; notify?: ReadonlyMap<string, readonly string[]> },
  message: Uint8Array | StreamedMessage,
  opts: AttemptOptions,
  log: (a: HostAttempt) => void,
): Promise<Map<string, RecipientResult>> {
  let last: RecipientResult = { result: 'deferred', status: '4.4.1', diagnostic: { type: 'x-postamt', text: 'no host could be tried' } };
  for (const t of targets) {
    if (Date.now() > opts.deadline) break;
    const started = Date.now();
    const report = (code: number | string, results?: Map<string, RecipientResult>) => {
      const n = (what: RecipientResult['result']) => (results ? [...results.values()].filter((r) => r.result === what).length : 0);
      log({ host: t.host, port: t.port, tls: t.tls, code, delivered: n('delivered'), failed: n('failed'), deferred: results ? n('deferred') : envelope.to.length, ms: Date.now() - started });
    };
    const key = opts.sessions?.keyOf(t);
    const cached = key !== undefined ? opts.sessions!.take(key) : null;
    let client: SmtpClient;
    const transactions = cached?.transactions ?? 0;
    if (cached) client = cached.client;
    else {
      try {
        client = await connect(t, opts);
      } catch (err) {
        last = sessionProblem(err, t.host);
        report(problemCode(err));
        continue;
      }
    }
    let keep = false;
    try {
      // A kept session the peer closed meanwhile is not usable and was not taken; one it closes
      // during this send fails like any broken session (next host, or a later attempt) — never
      // sent again at once, which could deliver twice.
      const sent = await client.send(envelope.from, envelope.to, message, undefined, envelope.notify);
      const results = new Map<string, RecipientResult>(envelope.to.map((a) => [a, fromReply(sent.reply, t.host)]));
      for (const r of sent.rejected) results.set(r.address, fromReply(r.reply, t.host));
      report(sent.reply.code, results);
      keep = true;
      return results;
    } catch (err) {
      if (err instanceof SmtpClientError && err.kind === 'rejected' && err.reply) {
        // The sender or the data refused (the reply is everyone's), or every recipient (each its own).
        const results = new Map<string, RecipientResult>(envelope.to.map((a) => [a, fromReply(err.reply!, t.host)]));
        for (const r of err.rejectedRecipients ?? []) results.set(r.address, fromReply(r.reply, t.host));
        report(err.reply.code, results);
        // The client reset the transaction (or closed a session it could not): reusable if still open.
        keep = true;
        return results;
      }
      // Broken off mid-transaction: nothing was accepted for sure, the next host may do better.
      last = sessionProblem(err, t.host);
      report(problemCode(err));
    } finally {
      if (keep && key !== undefined) opts.sessions!.give(key, client, transactions + 1);
      else await client.quit();
    }
  }
  return new Map(envelope.to.map((a) => [a, last]));
}

function connect(t: RelayTarget, opts: AttemptOptions): Promise<SmtpClient> {
  return SmtpClient.connect({
    host: t.host,
    port: t.port,
    tls: t.tls,
    ca: t.ca,
    // Verified against the host name we connect to (SNI too); an IP literal against its IP SAN.
    rejectUnauthorized: true,
    clientName: opts.heloName,
    timeoutMs: opts.timeoutMs,
    dataTimeoutMs: opts.dataTimeoutMs,
  });
}

/** A reply's own enhanced code when it has one of the same class, else the class's general one. */
function statusOf(reply: SmtpClientReply): string {
  return splitEnhancedStatus(reply).status ?? `${String(reply.code)[0]}.0.0`;
}

function fromReply(reply: SmtpClientReply, host: string): RecipientResult {
  const result = reply.code >= 200 && reply.code < 300 ? 'delivered' : reply.code >= 500 ? 'failed' : 'deferred';
  return { result, status: statusOf(reply), diagnostic: { type: 'smtp', text: formatSmtpReply(reply) }, remoteMta: host };
}

/** A host that could not be used: always deferred (the next host, or a later attempt). */
function sessionProblem(err: unknown, host: string): RecipientResult {
  if (!(err instanceof SmtpClientError)) return { result: 'deferred', status: '4.3.0', diagnostic: { type: 'x-postamt', text: String(err) } };
  // RFC 3463: 4.4.1 no answer from host, 4.4.2 bad connection, 4.7.5 cryptographic failure, 4.5.0 protocol.
  const status = { network: '4.4.1', timeout: '4.4.2', tls: '4.7.5', protocol: '4.5.0', rejected: '4.4.0' }[err.kind];
  const diagnostic = err.reply ? { type: 'smtp', text: formatSmtpReply(err.reply) } : { type: 'x-postamt', text: err.message };
  return { result: 'deferred', status, diagnostic, remoteMta: host };
}

function problemCode(err: unknown): number | string {
  if (err instanceof SmtpClientError) return err.reply?.code ?? err.kind;
  return 'error';
}
