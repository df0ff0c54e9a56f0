/**
 * What the SMTP edge needs from whoever decides about mail: the service's router, or the
 * client module's send pipeline. The edge owns sockets, TLS, limits and the DATA checks;
 * the backend owns every decision about addresses and what "accepted" means.
 * Any method may throw an SmtpReply to answer the client precisely.
 */
export interface SmtpSession {
  id: string;
  listener: string;
  remoteAddress: string;
  clientHostname: string;
  heloName: string;
  secure: boolean;
  tls?: { protocol: string; cipher: string };
  /** RFC 3848 protocol name for the Received header: ESMTP, ESMTPS, ESMTPA, ESMTPSA. */
  protocol: string;
  /** The authenticated identity, when AUTH succeeded. */
  user?: string;
}

export interface SmtpEnvelope {
  mailFrom: string;
  rcptTo: string[];
  /** SIZE= from MAIL FROM, when the client declared one. */
  declaredSize?: number;
  /**
   * RFC 3461 NOTIFY= of each RCPT that gave one (NEVER, or some of SUCCESS/FAILURE/DELAY), by
   * the recipient's address in lower case; recipients without one are not in it.
   */
  notify?: ReadonlyMap<string, readonly string[]>;
}

export interface SmtpBackend {
  /**
   * Checks AUTH PLAIN/LOGIN credentials; returns the identity, or null when they are wrong. A
   * 535 SmtpReply thrown here is a refusal in the backend's words, counted and delayed like null.
   */
  authenticate?(username: string, password: string, session: SmtpSession): Promise<string | null>;
  /**
   * Optional: the identity when these credentials are known right without the full check (a
   * login-cache hit), else undefined (not known: the edge then takes the normal path through
   * the login gate and `authenticate`). Must never be a success `authenticate` would refuse.
   * A hit is cheap, so it does not wait for the per-address login gate.
   */
  authenticateCached?(username: string, password: string, session: SmtpSession): Promise<string | undefined>;
  checkSender(address: string, envelope: SmtpEnvelope, session: SmtpSession): Promise<void>;
  checkRecipient(address: string, envelope: SmtpEnvelope, session: SmtpSession): Promise<void>;
  /**
   * Takes the message. `body` yields the checked DATA bytes and throws an SmtpReply if they
   * break a limit; the backend must then abandon the message. Resolves with the text of the
   * 250 answer only once the message is durably accepted.
   */
  deliver(envelope: SmtpEnvelope, session: SmtpSession, body: AsyncIterable<Buffer>): Promise<string>;
  /** The connection is gone: release whatever the backend holds for it (an upstream session). */
  sessionClosed?(session: SmtpSession): void;
}
