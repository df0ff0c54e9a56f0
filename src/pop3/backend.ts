/**
 * What the POP3 server needs from whoever owns the mailboxes. The service implements it over
 * its store; the client module will implement it over an upstream POP3 session with
 * decryption. The server knows nothing else.
 */
export interface Pop3LoginRequest {
  /** The user name as the client sent it (USER, or authcid of SASL PLAIN). */
  user: string;
  password: string;
  /** SASL PLAIN authorization identity (RFC 4616), when the client gave a non-empty one. */
  authzid?: string;
  remoteAddress: string;
  /** Whether the connection is TLS-protected at the time of login. */
  secure: boolean;
}

export interface Pop3Message {
  /** Unique and stable for the message's life (UIDL, RFC 1939 section 7): 1–70 chars 0x21–0x7E. */
  uid: string;
  /** Exact octet count of what retrieve() returns (CRLF line ends, no dot-stuffing). */
  size: number;
}

/** A maildrop opened for one session: a snapshot taken at login. */
export interface Pop3Maildrop {
  readonly messages: readonly Pop3Message[];
  /**
   * The whole message (CRLF line ends) at 0-based index. Rejects with Pop3MessageGoneError if
   * another session removed it since the snapshot was taken; any other rejection is a fault.
   */
  retrieve(index: number): Promise<Buffer>;
  /**
   * Optional: the same bytes as retrieve(), as a stream the server pulls at the socket's pace
   * (used for RETR of messages above limits.streamAboveBytes, so a large message never sits
   * in memory whole). Rejects like retrieve() when the message cannot be had; once it
   * resolved, a failing stream is a fault in mid-answer and the server closes the connection.
   */
  retrieveStream?(index: number): Promise<AsyncIterable<Uint8Array>>;
  /**
   * Optional: headers plus the first `lines` body lines, when the backend can do better than
   * cutting retrieve()'s result (the client module asks upstream for TOP 0).
   */
  top?(index: number, lines: number): Promise<Buffer>;
  /** UPDATE state (RFC 1939 section 6): remove the messages at these 0-based indexes. */
  commit(deleted: number[]): Promise<void>;
  /** The session ended without QUIT, or after commit: release whatever the maildrop holds. */
  release(): Promise<void>;
}

export type Pop3LoginResult =
  | { ok: true; maildrop: Pop3Maildrop; account: string }
  | { ok: false; reason: 'credentials' | 'unavailable'; message?: string };

export interface Pop3Backend {
  login(req: Pop3LoginRequest): Promise<Pop3LoginResult>;
  /**
   * Optional: the result `login` would give, when the credentials are known right without the
   * full check (a login-cache hit); undefined when not known (the server then takes the normal
   * path through the login gate and `login`). Never a success `login` would refuse. A hit is
   * cheap, so it does not wait for the per-address login gate.
   */
  loginCached?(req: Pop3LoginRequest): Promise<Pop3LoginResult | undefined>;
}

/**
 * retrieve()/top() reject with this when the message was removed (by another session) after
 * the maildrop snapshot was taken; the server answers `-ERR message N was removed …` instead
 * of reporting a temporary failure.
 */
export class Pop3MessageGoneError extends Error {
  constructor(message = 'message was removed by another session') {
    super(message);
    this.name = 'Pop3MessageGoneError';
  }
}
