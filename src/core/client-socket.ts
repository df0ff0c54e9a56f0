import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { TlsMode } from './tls-mode.js';

/**
 * Opening the TCP or TLS connection of one of our protocol clients (POP3, SMTP): one place
 * that applies the TLS policy (TLS 1.2 at least, certificate verified unless told otherwise,
 * SNI only for host names), a connect timeout, and sorts failures into network, TLS and
 * timeout so each client can answer its own caller precisely.
 */
export interface ClientSocketOptions {
  host: string;
  port: number;
  /** implicit: TLS from the first byte; none: plain TCP (loopback tests, or a STARTTLS-style upgrade later). */
  tls: TlsMode;
  /** Trust anchors for the server certificate (PEM); default: Node's CA store. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Verify the server certificate (default true). */
  rejectUnauthorized?: boolean;
  /** TLS client certificate and key, when the server asks for one. */
  cert?: string | Buffer;
  key?: string | Buffer;
  servername?: string;
  timeoutMs?: number;
}

export class ClientSocketError extends Error {
  constructor(
    readonly kind: 'network' | 'tls' | 'timeout',
    message: string,
  ) {
    super(message);
    this.name = 'ClientSocketError';
  }
}

export function clientTlsOptions(opts: ClientSocketOptions): ConnectionOptions {
  return {
    host: opts.host,
    servername: opts.servername ?? (isIP(opts.host) ? undefined : opts.host),
    ca: opts.ca,
    cert: opts.cert,
    key: opts.key,
    rejectUnauthorized: opts.rejectUnauthorized ?? true,
    minVersion: 'TLSv1.2',
  };
}

/** Connects (with the TLS handshake for `implicit`); the socket comes back with no listeners of ours. */
export function openClientSocket(opts: ClientSocketOptions): Promise<Socket | TLSSocket> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const s = opts.tls === 'implicit' ? tlsConnect({ port: opts.port, ...clientTlsOptions(opts) }, () => done()) : netConnect({ host: opts.host, port: opts.port }, () => done());
    const timer = setTimeout(() => {
      s.destroy();
      reject(new ClientSocketError('timeout', `connecting to ${opts.host}:${opts.port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (err: Error) => {
      clearTimeout(timer);
      // A TLS socket that failed verification is not closed by Node on its own.
      s.destroy();
      const tlsFailure = opts.tls === 'implicit' && /certificate|SSL|TLS|self.signed|altnames/i.test(err.message);
      reject(new ClientSocketError(tlsFailure ? 'tls' : 'network', `cannot connect to ${opts.host}:${opts.port}: ${err.message}`));
    };
    s.once('error', onError);
    function done() {
      clearTimeout(timer);
      s.off('error', onError);
      s.setNoDelay(true);
      resolve(s);
    }
  });
}
