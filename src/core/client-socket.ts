import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { TlsMode } from './tls-mode.js';
import { clientTlsProfile } from './tls-profile.js';

/**
 * The connection of one of our protocol clients (POP3, SMTP): one place that opens it (plain or
 * implicit TLS), upgrades a live plain one to TLS (STARTTLS, STLS), applies the TLS policy
 * (the TI's profile of tls-profile.ts: TLS 1.2 at least, its curves and suites, ECC preferred;
 * certificate verified unless told otherwise, SNI only for host names), puts
 * a timeout on every wait, and sorts failures into network, TLS and timeout so each client can
 * answer its own caller precisely. The clients' options extend ClientSocketOptions.
 */
export interface ClientTlsOptions {
  /** Trust anchors for the server certificate (PEM); default: Node's CA store. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Verify the server certificate (default true). */
  rejectUnauthorized?: boolean;
  /** TLS client certificate and key, when the server asks for one. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** The name the certificate must carry (and SNI); default: `host` when it is a name. */
  servername?: string;
}

export interface ClientSocketOptions extends ClientTlsOptions {
  host: string;
  port: number;
  /**
   * implicit: TLS from the first byte; starttls: plain, upgraded by the protocol's own command
   * (upgradeClientSocket) before anything that matters is said — the clients never fall back to
   * plain; none: plain TCP (loopback and tests).
   */
  tls: TlsMode;
  /** Longest wait for connecting and for the TLS handshake (default 30 s). */
  timeoutMs?: number;
}

export type ClientSocketErrorKind = 'network' | 'tls' | 'timeout';

export class ClientSocketError extends Error {
  constructor(
    readonly kind: ClientSocketErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'ClientSocketError';
  }
}

/** Whether a socket error is about TLS (a certificate, the handshake) rather than the network. */
export function isTlsFailure(err: Error & { code?: string }): boolean {
  return /certificate|SSL|TLS|self.signed|altnames/i.test(err.message) || /CERT|SSL|TLS|SIGNATURE|ISSUER/.test(err.code ?? '');
}

export function clientTlsOptions(opts: ClientTlsOptions & { host: string }): ConnectionOptions {
  return {
    host: opts.host,
    servername: opts.servername ?? (isIP(opts.host) ? undefined : opts.host),
    ca: opts.ca,
    cert: opts.cert,
    key: opts.key,
    rejectUnauthorized: opts.rejectUnauthorized ?? true,
    ...clientTlsProfile(),
  };
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** Connects (with the TLS handshake for `implicit`); the socket comes back with no listeners of ours. */
export function openClientSocket(opts: ClientSocketOptions): Promise<Socket | TLSSocket> {
  const implicit = opts.tls === 'implicit';
  const where = `${opts.host}:${opts.port}`;
  return settle(
    (done) => (implicit ? tlsConnect({ port: opts.port, ...clientTlsOptions(opts) }, done) : netConnect({ host: opts.host, port: opts.port }, done)),
    opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    (ms) => `connecting to ${where} timed out after ${ms} ms`,
    (err) => new ClientSocketError(implicit && isTlsFailure(err) ? 'tls' : 'network', `cannot connect to ${where}: ${err.message}`),
  ).then((s) => {
    s.setNoDelay(true);
    return s;
  });
}

/**
 * A client's own handlers on its connection. bindClientSocket puts them on a socket;
 * upgradeClientSocket moves them from the plain socket to the TLS one, so a client never
 * reads the plain socket once its handshake has begun.
 */
export interface ClientSocketHandlers {
  /** How `data` wants its chunks: a string encoding, or Buffers when unset. */
  readonly encoding?: BufferEncoding;
  data(chunk: Buffer | string): void;
  error(err: Error): void;
  close(): void;
}

export function bindClientSocket(socket: Socket, h: ClientSocketHandlers): void {
  if (h.encoding) socket.setEncoding(h.encoding);
  socket.on('data', h.data);
  socket.on('error', h.error);
  socket.on('close', h.close);
}

function unbindClientSocket(socket: Socket, h: ClientSocketHandlers): void {
  socket.off('data', h.data);
  socket.off('error', h.error);
  socket.off('close', h.close);
}

/**
 * Upgrades a live plain connection to TLS after the server agreed (STARTTLS, STLS), verified
 * like an implicit-TLS one and with the same timeout on the handshake. The client's handlers
 * move from `plain` to the TLS socket; the caller has checked that nothing arrived after the
 * server's go-ahead (bytes read before TLS must never count as if they came over it). On
 * failure both sockets are destroyed (and the handlers are on neither). The TCP connection is already up, so whatever breaks the handshake is a TLS failure.
 */
export async function upgradeClientSocket(plain: Socket, opts: ClientSocketOptions, handlers: ClientSocketHandlers): Promise<TLSSocket> {
  unbindClientSocket(plain, handlers);
  const secure = await handshakeOver(plain, opts);
  bindClientSocket(secure, handlers);
  return secure;
}

function handshakeOver(plain: Socket, opts: ClientSocketOptions): Promise<TLSSocket> {
  const where = `${opts.host}:${opts.port}`;
  return settle(
    (done) => tlsConnect({ ...clientTlsOptions(opts), socket: plain }, done),
    opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    (ms) => `TLS handshake with ${where} timed out after ${ms} ms`,
    (err) => new ClientSocketError('tls', `TLS with ${where} failed: ${err.message}`),
  ).catch((err: unknown) => {
    plain.destroy();
    throw err;
  });
}

/** Waits for `start`'s socket to be ready, within `timeoutMs`, and leaves no listener of ours on it. */
function settle<S extends Socket>(start: (done: () => void) => S, timeoutMs: number, timeoutText: (ms: number) => string, failure: (err: Error) => ClientSocketError): Promise<S> {
  return new Promise((resolve, reject) => {
    const s = start(() => {
      clearTimeout(timer);
      s.off('error', onError);
      resolve(s);
    });
    const timer = setTimeout(() => {
      s.off('error', onError);
      // Errors of a socket given up on are of no interest, but must not be unhandled.
      s.on('error', () => undefined);
      s.destroy();
      reject(new ClientSocketError('timeout', timeoutText(timeoutMs)));
    }, timeoutMs);
    const onError = (err: Error) => {
      clearTimeout(timer);
      // A TLS socket that failed verification is not closed by Node on its own.
      s.destroy();
      reject(failure(err));
    };
    s.once('error', onError);
  });
}
