import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';

/**
 * One authenticated SMTP session from the client module to the mail service named in the KIM
 * user name (implicit TLS, as KIM's port 465). nodemailer's SMTPConnection does the protocol;
 * this wrapper gives it promises and sorts failures into what the client module answers the
 * primary system: unreachable (454), credentials rejected (535), or a refusal to pass on.
 */
export interface UpstreamTarget {
  host: string;
  port: number;
  ca?: string[];
  rejectUnauthorized: boolean;
  timeoutMs: number;
  /** Our name in EHLO. */
  clientName: string;
}

export type UpstreamFailureKind = 'unreachable' | 'credentials' | 'rejected' | 'broken';

export class UpstreamSmtpError extends Error {
  constructor(
    readonly kind: UpstreamFailureKind,
    message: string,
    /** The service's reply code and text, when it answered. */
    readonly responseCode?: number,
    readonly response?: string,
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
  private closed = false;

  private constructor(private readonly conn: SMTPConnection) {
    conn.on('error', () => (this.closed = true));
    conn.on('end', () => (this.closed = true));
  }

  /** Connects over TLS and logs in. */
  static async open(target: UpstreamTarget, user: string, password: string): Promise<UpstreamSmtp> {
    const conn = new SMTPConnection({
      host: target.host,
      port: target.port,
      secure: true,
      name: target.clientName,
      connectionTimeout: target.timeoutMs,
      greetingTimeout: target.timeoutMs,
      socketTimeout: target.timeoutMs * 4,
      tls: { ca: target.ca, rejectUnauthorized: target.rejectUnauthorized, minVersion: 'TLSv1.2', servername: isIp(target.host) ? undefined : target.host },
      logger: false,
    });
    const where = `${target.host}:${target.port}`;
    // SMTPConnection reports connection failures as 'error' events, not through connect's
    // callback; until the login is through, an error fails the opening.
    let failOpen: (err: Error) => void = () => undefined;
    const early = (err: Error) => failOpen(err);
    conn.on('error', early);
    try {
      await new Promise<void>((resolve, reject) => {
        failOpen = (err) => reject(new UpstreamSmtpError('unreachable', `mail service ${where} is not reachable: ${err.message}`));
        conn.connect((err) => (err ? failOpen(err) : resolve()));
      });
      await new Promise<void>((resolve, reject) => {
        failOpen = (err) => reject(new UpstreamSmtpError('unreachable', `mail service ${where} failed during login: ${err.message}`));
        conn.login({ user, pass: password }, (err) => {
          if (!err) return resolve();
          const e = err as SMTPConnection.SMTPError;
          if (e.responseCode !== undefined && e.responseCode >= 500) reject(new UpstreamSmtpError('credentials', `mail service ${where} rejected the credentials`, e.responseCode, e.response));
          else reject(new UpstreamSmtpError('unreachable', `mail service ${where} could not authenticate: ${err.message}`, e.responseCode));
        });
      });
    } catch (err) {
      conn.close();
      throw err;
    }
    conn.off('error', early);
    return new UpstreamSmtp(conn);
  }

  get usable(): boolean {
    return !this.closed && !(this.conn as unknown as { destroyed?: boolean }).destroyed;
  }

  /** Sends one message; resolves with per-recipient results once the service answered DATA. */
  send(from: string, to: string[], message: Buffer): Promise<UpstreamSendResult> {
    return new Promise((resolve, reject) => {
      this.conn.send({ from, to }, message, (err, info) => {
        if (err) {
          const e = err as SMTPConnection.SMTPError;
          if (e.responseCode === undefined) {
            this.closed = true;
            return reject(new UpstreamSmtpError('broken', `the session to the mail service broke: ${e.message}`));
          }
          // All recipients refused, or MAIL/DATA refused: the service's own words go back.
          return reject(new UpstreamSmtpError('rejected', e.response ?? e.message, e.responseCode, e.response));
        }
        const rejected = (info.rejectedErrors ?? []).map((r) => ({
          address: (r as SMTPConnection.SMTPError & { recipient?: string }).recipient ?? '',
          response: r.response ?? r.message,
          code: r.responseCode,
        }));
        resolve({ accepted: info.accepted.map(String), rejected, response: info.response });
      });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.quit();
    } catch {
      this.conn.close();
    }
  }
}

function isIp(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(':');
}
