import type { Logger, LoginThrottle, Metrics, ServerTls, TlsMode } from '../core/index.js';
import type { pop3 } from '../wire/index.js';
import type { Pop3Backend } from './backend.js';
import type { Pop3Limits } from './options.js';

/** What the server gives each session: fixed for the listener's life. */
export interface SessionContext {
  id: number;
  backend: Pop3Backend;
  hostname: string;
  tlsMode: TlsMode;
  /** For STLS: present only on a `starttls` listener (implicit TLS is the listener's). */
  tls: ServerTls | undefined;
  limits: Pop3Limits;
  maxBadCommands: number;
  log: Logger;
  metrics: Metrics | undefined;
  listener: string;
  throttle: LoginThrottle | undefined;
  /** A failed STLS handshake, for the listener's count and log line. */
  tlsFailed(remote: string, reason: string): void;
}

/** Counter names (labelled `listener`); the full list is in server.ts. */
export const METRIC = {
  logins: 'postamt_pop3_logins_total',
  retrieved: 'postamt_pop3_messages_retrieved_total',
  deleted: 'postamt_pop3_messages_deleted_total',
  errors: 'postamt_pop3_errors_total',
} as const;

/**
 * How the state handlers answer. The session implements it once, so the bookkeeping that
 * goes with an answer (bad-command count, the log line's ok flag) lives in one place.
 */
export interface SessionOutput {
  /** A normal answer: `+OK …`, `-ERR …` or a SASL continuation. */
  reply(line: string): Promise<void>;
  /** A command the client should not have sent; counts towards maxBadCommands. */
  bad(text: string, code?: pop3.Pop3ResponseCode): Promise<void>;
  /** A `+OK` line followed by a dot-stuffed multi-line body. */
  body(first: string, data: Buffer): Promise<void>;
  /**
   * The same from a stream, pulled as the socket drains. A source failing after the `+OK`
   * went out cannot be answered with -ERR any more: it is logged and the connection closed.
   */
  bodyStream(first: string, source: AsyncIterable<Uint8Array>, about: Record<string, string | number>): Promise<void>;
  /** Last words (if any), then the connection closes. */
  finish(finalLine?: string): void;
  count(what: keyof typeof METRIC, labels?: Record<string, string>, by?: number): void;
}
