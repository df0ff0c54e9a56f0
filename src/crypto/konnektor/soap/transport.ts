import { Agent, request as httpsRequest, type AgentOptions } from 'node:https';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { clientTlsProfile } from '../../../core/tls-profile.js';
import { KonnektorError } from '../errors.js';

/** How to reach the Konnektor, read from config by the factory (files already loaded). */
export interface SoapTransportOptions {
  /** CA certificates (PEM) for the Konnektor's TLS certificate; absent with pins: none, absent without: the system's. */
  readonly ca?: readonly string[];
  /** SHA-256 fingerprints of the accepted server certificate(s): the identity, hostname not checked. */
  readonly pinSha256?: readonly string[];
  /** Client certificate and key (PEM), from the PKCS#12 the Konnektor's admin UI exports. */
  readonly clientCert?: { readonly cert: string; readonly key: string };
  readonly basicAuth?: { readonly user: string; readonly password: string };
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
}

/** A fingerprint in any usual spelling (colons, case) as 64 lowercase hex digits. */
export function normalisePin(pin: string): string {
  const hex = pin.replace(/[:\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new KonnektorError('unavailable', `konnektor.soap.tls.pinSha256: ${JSON.stringify(pin)} is not a SHA-256 fingerprint`);
  return hex;
}

/**
 * The HTTPS agent of every call to one Konnektor: the TI's TLS profile, the CA or the pins, the
 * client certificate, keep-alive. With pins the server certificate is checked before the socket
 * is handed to HTTP, so not one byte of a request (nor the Basic credentials) reaches a server
 * whose certificate is not pinned.
 */
export function createKonnektorAgent(opts: SoapTransportOptions): Agent {
  const pins = opts.pinSha256?.map(normalisePin);
  const tlsOptions: ConnectionOptions = {
    ...clientTlsProfile(),
    ...(opts.clientCert ? { cert: opts.clientCert.cert, key: opts.clientCert.key } : {}),
    ...(pins ? { rejectUnauthorized: false } : opts.ca ? { ca: [...opts.ca] } : {}),
  };
  const agentOptions: AgentOptions = { keepAlive: true, maxSockets: 16, ...tlsOptions };
  const agent = new Agent(agentOptions);
  if (pins) {
    type Create = (options: ConnectionOptions, cb: (err: Error | null, socket?: Duplex) => void) => Duplex | undefined;
    (agent as unknown as { createConnection: Create }).createConnection = (options, cb) => {
      const socket: TLSSocket = tlsConnect({ ...options, ...tlsOptions });
      const fail = (err: Error): void => {
        socket.destroy();
        cb(err);
      };
      socket.once('error', fail);
      socket.once('secureConnect', () => {
        socket.off('error', fail);
        const fp = socket.getPeerCertificate().fingerprint256?.replace(/:/g, '').toLowerCase();
        if (!fp || !pins.includes(fp)) {
          fail(new PinMismatchError(`the Konnektor's TLS certificate (SHA-256 ${fp ?? 'none'}) is not one of the pinned ones`));
          return;
        }
        cb(null, socket);
      });
      return undefined;
    };
  }
  return agent;
}

export class PinMismatchError extends Error {
  override readonly name = 'PinMismatchError';
  readonly code = 'ERR_KONNEKTOR_PIN';
}

/** The Authorization header of Basic auth, or none. */
export function authHeaders(opts: SoapTransportOptions): Record<string, string> {
  if (!opts.basicAuth) return {};
  return { Authorization: 'Basic ' + Buffer.from(`${opts.basicAuth.user}:${opts.basicAuth.password}`, 'utf8').toString('base64') };
}

/**
 * GET of connector.sds (plain HTTPS, no SOAP): the same agent, timeout and size limit as the
 * calls. Any failure is `unavailable`: without the directory the Konnektor cannot be used.
 */
export function fetchServiceDirectory(url: string, agent: Agent, opts: SoapTransportOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const fail = (msg: string, cause?: unknown): void => reject(new KonnektorError('unavailable', `connector.sds (${url}): ${msg}`, { cause }));
    const req = httpsRequest(url, { method: 'GET', agent, headers: { Accept: 'application/xml, text/xml', ...authHeaders(opts) }, signal: AbortSignal.timeout(opts.timeoutMs) }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        fail(`HTTP ${res.statusCode ?? '?'}`);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > opts.maxResponseBytes) {
          req.destroy();
          fail(`the answer is larger than ${opts.maxResponseBytes} bytes`);
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', (err) => fail(err.message, err));
    });
    req.on('error', (err) => fail(describeNetworkError(err), err));
    req.end();
  });
}

/** A short, secret-free description of a transport failure. */
export function describeNetworkError(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string };
  if (e.name === 'AbortError' || e.name === 'TimeoutError' || e.code === 'ECONNABORTED' || e.code === 'ETIMEDOUT' || e.code === 'ERR_CANCELED') return 'no answer in time';
  if (e.code === 'ERR_KONNEKTOR_PIN') return e.message ?? 'certificate not pinned';
  return `${e.code ? e.code + ': ' : ''}${e.message ?? String(err)}`;
}
