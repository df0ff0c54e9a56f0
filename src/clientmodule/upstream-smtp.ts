import { errorMessage } from '../core/index.js';
import { SmtpClient, SmtpClientError } from '../smtp/index.js';
import { formatSmtpReply, type SmtpClientReply } from '../wire/smtp/index.js';

/**
 * One authenticated SMTP session from the client module to the mail service named in the KIM
 * user name (implicit TLS, as KIM's port 465). The SMTP client in src/smtp does the protocol;
 * this wrapper sorts failures into what the client module answers the primary system:
 * unreachable (454), credentials rejected (535), a refusal to pass on, or a broken session.
 */
export interface UpstreamTarget {
  host: string;
  port: number;
  ca?: string[];
  rejectUnauthorized: boolean;
  timeoutMs: number;
  /** Our name in EHLO. */
  clientName: string;
  /** The TLS client certificate and key (PEM) presented to the service (C.CM.TLS-CS). */
  cert?: string;
  key?: string;
}

export type UpstreamFailureKind = 'unreachable' | 'credentials' | 'rejected' | 'broken';

export class UpstreamSmtpError extends Error {
  constructor(
    readonly kind: UpstreamFailureKind,
    message: string,
    /** The service's reply, when it answered. */
    readonly reply?: SmtpClientReply,
  ) {
    super(message);
    this.name = 'UpstreamSmtpError';
  }
}

export interface UpstreamSendResult {
  accepted: string[];
  rejected: Array<{ address: string; response: string; code?: number }>;
  response: string;
}

export class UpstreamSmtp {
  private constructor(private readonly conn: SmtpClient) {}

  /** Connects over TLS and logs in. */
  static async open(target: UpstreamTarget, user: string, password: string): Promise<UpstreamSmtp> {
    const where = `${target.host}:${target.port}`;
    let conn: SmtpClient;
    try {
      conn = await SmtpClient.connect({
        host: target.host,
        port: target.port,
        tls: 'implicit',
        ca: target.ca,
        rejectUnauthorized: target.rejectUnauthorized,
        ...(target.cert !== undefined && target.key !== undefined ? { cert: target.cert, key: target.key } : {}),
        clientName: target.clientName,
        timeoutMs: target.timeoutMs,
        dataTimeoutMs: target.timeoutMs * 4,
      });
    } catch (err) {
      throw new UpstreamSmtpError('unreachable', `mail service ${where} is not reachable: ${errorMessage(err)}`);
    }
    try {
      await conn.login(user, password);
    } catch (err) {
      conn.close();
      const reply = err instanceof SmtpClientError ? err.reply : undefined;
      if (reply && reply.code >= 500) throw new UpstreamSmtpError('credentials', `mail service ${where} rejected the credentials`, reply);
      throw new UpstreamSmtpError('unreachable', `mail service ${where} could not authenticate: ${errorMessage(err)}`, reply);
    }
    return new UpstreamSmtp(conn);
  }

  get usable(): boolean {
    return this.conn.usable;
  }

  /** Sends one message; resolves with per-recipient results once the service answered the data. */
  async send(from: string, to: string[], message: Buffer, cleanFrom?: number, notify?: ReadonlyMap<string, readonly string[]>): Promise<UpstreamSendResult> {
    try {
      const r = await this.conn.send(from, to, message, cleanFrom, notify);
      return {
        accepted: r.accepted,
        rejected: r.rejected.map((x) => ({ address: x.address, response: formatSmtpReply(x.reply), code: x.reply.code })),
        response: formatSmtpReply(r.reply),
      };
    } catch (err) {
      if (err instanceof SmtpClientError && err.kind === 'rejected' && err.reply) {
        // All recipients refused, or MAIL/DATA refused: the service's own words go back.
        throw new UpstreamSmtpError('rejected', formatSmtpReply(err.reply), err.reply);
      }
      throw new UpstreamSmtpError('broken', `the session to the mail service broke: ${errorMessage(err)}`);
    }
  }

  close(): void {
    void this.conn.quit();
  }
}
