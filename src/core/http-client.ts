import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { LookupFunction, Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { ClientTlsOptions } from './client-socket.js';
import { isTlsFailure } from './client-socket.js';
import { addressRefusal, hostRefusal, type TargetPolicy } from './target-policy.js';
import { clientTlsProfile } from './tls-profile.js';

/**
 * The one HTTP client for calls Postamt makes (mail-in webhooks and scripts' `api.http`, the
 * remote integration source, and the SOAP and REST clients to come). Its rules hold for every
 * caller: http(s) only, no credentials in the URL (they would be logged), an optional allow-list
 * of hosts, TLS verified (Node's CA store, or `tls.ca`; client certificates for mutual TLS),
 * redirects never followed, one deadline over the whole exchange (connect, request, the
 * complete answer) and a bound on the answer. The answer is read whole: callers check it
 * before any of it is used. With a target policy (target-policy.ts) the address actually
 * connected to is checked: an IP literal before connecting, a name on each address DNS gives
 * (the socket's lookup hook, so a name that resolves somewhere else later is still caught), a
 * kept-alive socket again when it is reused.
 */
export interface HttpClientRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Longest time for the whole exchange, in ms. */
  deadlineMs: number;
  /** Largest answer body accepted, in bytes. */
  maxResponseBytes: number;
  /** Host names or IP literals that may be called; absent or empty: any. */
  allowHosts?: readonly string[];
  /** How refusals name the allow-list (its config key), e.g. "mailin.webhook.allowHosts". */
  allowHostsName?: string;
  tls?: ClientTlsOptions;
  /** Which addresses may be connected to (absent: any). */
  targets?: TargetPolicy;
  /** Name resolution (default: dns.lookup, the system's resolver); with `targets` its answers are checked. */
  lookup?: LookupFunction;
  /** Aborts the exchange (kind `aborted`). */
  signal?: AbortSignal;
}

export interface HttpClientResponse {
  status: number;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

export type HttpClientErrorKind = 'target' | 'network' | 'tls' | 'timeout' | 'redirect' | 'too-large' | 'cut-off' | 'aborted';

export class HttpClientError extends Error {
  constructor(
    readonly kind: HttpClientErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'HttpClientError';
  }
}

/** Why `url` may not be called, or null when it may (also for checking configuration early). */
export function httpTargetProblem(url: string, allowHosts: readonly string[] = [], allowHostsName = 'the allow-list'): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `"${url.slice(0, 200)}" is not a URL`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `only http:// and https:// URLs can be called, not ${u.protocol}`;
  if (u.username || u.password) return 'credentials in the URL are not allowed (they would be logged)';
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (allowHosts.length > 0 && !allowHosts.some((h) => h.toLowerCase() === host)) return `host ${host} is not in ${allowHostsName}`;
  return null;
}

// Kept-alive connections: a webhook per message would otherwise pay a TCP (and TLS) handshake
// each time. Bounded per destination; idle sockets are closed after a while. Node keys the pool
// by TLS options as well, so requests with other trust anchors or client certificates never
// share a connection.
const AGENT_OPTIONS = { keepAlive: true, keepAliveMsecs: 10_000, maxSockets: 64, maxFreeSockets: 16, timeout: 60_000 };
const agents = { 'http:': new HttpAgent(AGENT_OPTIONS), 'https:': new HttpsAgent(AGENT_OPTIONS) };

/** A DNS answer the target policy refuses; turned into kind `target`. */
class TargetRefused extends Error {}

// This host's interface addresses, for listeners on the unspecified address; they rarely change.
let local: { at: number; addresses: string[] } | undefined;
function localAddresses(): string[] {
  if (!local || Date.now() - local.at > 10_000) {
    const addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
    local = { at: Date.now(), addresses };
  }
  return local.addresses;
}

/** A lookup hook that answers only when every address DNS gives is allowed. */
function checkedLookup(policy: TargetPolicy, port: number, resolve: LookupFunction): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true } as LookupAllOptions, (err, answer) => {
      if (err) return callback(err, '', 0);
      const list = (Array.isArray(answer) ? answer : [{ address: answer, family: 0 }]) as LookupAddress[];
      for (const a of list) {
        const why = addressRefusal(a.address, port, policy, localAddresses());
        if (why) return callback(new TargetRefused(`${hostname} resolves to ${why}`), '', 0);
      }
      if (list.length === 0) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
}

export function httpCall(req: HttpClientRequest): Promise<HttpClientResponse> {
  const problem = httpTargetProblem(req.url, req.allowHosts, req.allowHostsName);
  if (problem) return Promise.reject(new HttpClientError('target', problem));
  if (req.signal?.aborted) return Promise.reject(new HttpClientError('aborted', 'the request was aborted'));
  const u = new URL(req.url);
  const body = req.body === undefined ? undefined : typeof req.body === 'string' ? Buffer.from(req.body) : Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength);
  const headers: Record<string, string> = { ...req.headers };
  if (body) headers['content-length'] = String(body.length);
  const https = u.protocol === 'https:';
  // The TI's TLS profile (tls-profile.ts) for every https call, with the caller's anchors and identity.
  const tls = https ? { ...clientTlsProfile(), ...req.tls, rejectUnauthorized: req.tls?.rejectUnauthorized ?? true } : {};
  const port = Number(u.port) || (https ? 443 : 80);
  const policy = req.targets;
  if (policy) {
    const why = hostRefusal(u.hostname, port, policy, localAddresses());
    if (why) return Promise.reject(new HttpClientError('target', why));
  }
  const lookup = policy ? checkedLookup(policy, port, req.lookup ?? (dnsLookup as LookupFunction)) : req.lookup;
  return new Promise<HttpClientResponse>((resolve, reject) => {
    let settled = false;
    const finish = (err: HttpClientError | null, answer?: HttpClientResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      if (err) {
        request.destroy();
        reject(err);
      } else resolve(answer!);
    };
    const onAbort = () => finish(new HttpClientError('aborted', 'the request was aborted'));
    // Node's http client never follows redirects; a 3xx is turned into a failure below.
    const request = (https ? httpsRequest : httpRequest)(u, { method: req.method, headers, agent: agents[u.protocol as 'http:' | 'https:'], ...(lookup ? { lookup } : {}), ...tls }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400) {
        res.resume();
        const location = String(res.headers.location ?? '?').slice(0, 200);
        return finish(new HttpClientError('redirect', `answered ${status} (redirect to ${location}): redirects are not followed`));
      }
      const tooLarge = () => new HttpClientError('too-large', `the answer is larger than ${req.maxResponseBytes} bytes`);
      if (Number(res.headers['content-length'] ?? 0) > req.maxResponseBytes) return finish(tooLarge());
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > req.maxResponseBytes) return finish(tooLarge());
        chunks.push(chunk);
      });
      res.on('end', () => finish(null, { status, headers: flatHeaders(res), body: Buffer.concat(chunks, size) }));
      res.on('error', (err) => finish(new HttpClientError('cut-off', `the answer broke off: ${err.message}`)));
      res.on('close', () => finish(new HttpClientError('cut-off', 'the answer broke off')));
    });
    const timer = setTimeout(() => finish(new HttpClientError('timeout', `no complete answer within ${req.deadlineMs} ms`)), req.deadlineMs);
    req.signal?.addEventListener('abort', onAbort, { once: true });
    // A kept-alive socket was checked when it connected, but perhaps under another policy.
    if (policy) {
      request.on('socket', (socket: Socket) => {
        if (socket.remoteAddress === undefined) return;
        const why = addressRefusal(socket.remoteAddress, socket.remotePort ?? port, policy, localAddresses());
        if (why) finish(new HttpClientError('target', why));
      });
    }
    request.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof TargetRefused) return finish(new HttpClientError('target', err.message));
      finish(new HttpClientError(isTlsFailure(err) ? 'tls' : 'network', `request failed: ${err.code ?? err.message}`));
    });
    request.end(body);
  });
}

function flatHeaders(res: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}
