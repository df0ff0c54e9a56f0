import type { EventEmitter } from 'node:events';
import type { Server, Socket } from 'node:net';
import { TLSSocket, type SecureContext, type SecureContextOptions } from 'node:tls';
import { serverContextOptions, type ServerPem } from './tls-profile.js';
import { ResumableContexts } from './tls-resumption.js';
import type { ClientCertificateMode } from './tls-mode.js';

/** What a listener needs to be the TLS server of a connection. */
export interface ServerTls {
  /** The context of the next handshake (read per handshake: resumption's ticket key rotates). */
  readonly context: SecureContext;
  /** Ask for a client certificate and refuse the connection unless the context's CAs issued it. */
  requireClientCert?: boolean;
  /** Ask for a client certificate, but serve a client without one (or with one not verified) too. */
  requestClientCert?: boolean;
  /** The session cache's events (tls-resumption.ts), if the listener has one. */
  readonly sessions?: EventEmitter | undefined;
}

/**
 * The server side from a certificate and key (PEM; an RSA and an ECC pair when given both),
 * with the TI's TLS profile (tls-profile.ts) and session resumption (tls-resumption.ts); with
 * `clientCa`, client certificates they issued are asked for: required, unless `mode` is
 * `request`. `name` is the listener's.
 */
export function serverTls(pem: ServerPem, clientCa?: readonly string[], name = 'listener', mode: Exclude<ClientCertificateMode, 'off'> = 'require'): ServerTls {
  const asks = clientCa !== undefined && clientCa.length > 0;
  return resumableServerTls({ ...serverContextOptions(pem), ...(asks ? { ca: [...clientCa] } : {}) }, name, asks ? mode : 'off');
}

/** A ServerTls from context options (serverContextOptions and more), with session resumption; `true` is `require`. */
export function resumableServerTls(options: SecureContextOptions, name: string, clientCertificate: boolean | ClientCertificateMode): ServerTls {
  const contexts = new ResumableContexts(options, name);
  const mode = clientCertificate === true ? 'require' : clientCertificate === false ? 'off' : clientCertificate;
  return {
    get context() {
      return contexts.context;
    },
    requireClientCert: mode === 'require',
    requestClientCert: mode === 'request',
    sessions: contexts.sessions,
  };
}

/** The end of a server-side handshake: the TLS socket to talk over, or why there is none. */
export type Handshake = { ok: true; socket: TLSSocket } | { ok: false; reason: string };

const ignore = (): void => undefined;

/**
 * Runs the server side of a TLS handshake on an accepted socket: implicit TLS, or the switch
 * after a STARTTLS-type command (see switchToTls). Every way a handshake can fail ends it at
 * once, the same for every protocol, and destroys the connection (without a TLS session there
 * is nothing left to say): an error or alert, a close, the timeout, and the peer's FIN — our
 * listeners allow half-open connections, so a client that shuts its side mid-handshake would
 * otherwise hold the socket until some idle timer fired. `track` sees the TLS socket at once,
 * so a listener that closes can destroy the topmost socket (tearing the TCP socket away under
 * a handshake in progress is what Node does not survive well).
 */
export function serverHandshake(raw: Socket, tls: ServerTls, timeoutMs: number, track?: (secure: TLSSocket) => void): Promise<Handshake> {
  const requireCert = tls.requireClientCert === true;
  const requestCert = requireCert || tls.requestClientCert === true;
  // The TLSSocket takes over raw's handle and replays bytes raw has buffered but not emitted
  // (the ClientHello may already be there), so nothing is lost.
  // `server` is where Node takes a server TLSSocket's sessions to and asks for them back.
  const sessions = tls.sessions ? { server: tls.sessions as unknown as Server } : {};
  const secure = new TLSSocket(raw, { isServer: true, secureContext: tls.context, requestCert, rejectUnauthorized: requireCert, ...sessions });
  // A late error (EPIPE after a failure) must not go unhandled; the new owner adds its own.
  secure.on('error', ignore);
  secure.once('close', () => raw.destroy());
  track?.(secure);
  return new Promise((resolve) => {
    const done = (reason?: string): void => {
      clearTimeout(timer);
      secure.off('secure', onSecure).off('end', onEnd).off('close', onClose).off('error', onError);
      if (reason === undefined) return resolve({ ok: true, socket: secure });
      secure.destroy();
      resolve({ ok: false, reason });
    };
    // `request`: the verdict only marks the socket authorized (or not); it never refuses.
    const onSecure = (): void => done(requireCert ? clientCertificateProblem(secure) : requestCert ? void clientCertificateProblem(secure) : undefined);
    const onEnd = (): void => done('ended by the client');
    const onClose = (): void => done('closed');
    const onError = (err: NodeJS.ErrnoException): void => done(err.code ?? err.message);
    // 0 means no limit, as for a socket's idle timeout.
    const timer = timeoutMs > 0 ? setTimeout(() => done('timeout'), timeoutMs) : undefined;
    secure.once('secure', onSecure);
    secure.on('end', onEnd);
    secure.on('close', onClose);
    secure.on('error', onError);
  });
}

/**
 * Switches a plaintext connection to TLS after a STARTTLS-type command (POP3 STLS, LDAP
 * StartTLS). The positive answer goes out in plaintext and must have reached the kernel before
 * the handshake starts, so it cannot end up behind TLS records. The caller has stopped reading
 * and thrown away what arrived after the command (the injection of CVE-2011-0411) before.
 */
export async function switchToTls(raw: Socket, answer: string | Buffer, tls: ServerTls, timeoutMs: number): Promise<Handshake> {
  await new Promise<void>((resolve) => (raw.writable ? raw.write(answer, () => resolve()) : resolve()));
  if (raw.destroyed) return { ok: false, reason: 'closed' };
  // From here the handshake's own timer bounds the wait; the session arms its idle timer again after.
  raw.setTimeout(0);
  return serverHandshake(raw, tls, timeoutMs);
}

/**
 * Node checks a client certificate against the CAs only for the sockets of a tls.Server; a
 * TLSSocket made on an accepted socket completes the handshake with any certificate and leaves
 * the verdict in its handle, where tls.Server (and smtp-server) read it. Without that verdict a
 * required certificate counts as not verified.
 */
function clientCertificateProblem(secure: TLSSocket): string | undefined {
  const handle = (secure as unknown as { _handle?: { verifyError?: () => (Error & { code?: string }) | null } })._handle;
  if (typeof handle?.verifyError !== 'function') return 'client certificate not verifiable';
  const err = handle.verifyError();
  if (err) return `client certificate: ${err.code ?? err.message}`;
  secure.authorized = true;
  return undefined;
}
