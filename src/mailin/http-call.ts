import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
/**
 * The one way the mail-in module reaches the network: webhooks and scripts' `api.http` both
 * come here, so the rules hold for both: http(s) only, destinations on the allow-list (when
 * one is configured), TLS verified (Node's defaults; NODE_EXTRA_CA_CERTS adds a private CA),
 * redirects never followed, a time limit over the whole exchange and a bound on the answer.
 */
export interface HttpCallLimits {
  /** Host names or IP literals that may be called; empty: any. */
  allowHosts: string[];
  timeoutMs: number;
  maxResponseBytes: number;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export class HttpCallError extends Error {
  constructor(
    message: string,
    readonly timedOut = false,
  ) {
    super(message);
    this.name = 'HttpCallError';
  }
}

/** Why `url` may not be called, or null when it may. Used at `agent add` too. */
export function destinationProblem(url: string, allowHosts: string[]): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `"${url.slice(0, 200)}" is not a URL`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `only http:// and https:// URLs can be called, not ${u.protocol}`;
  if (u.username || u.password) return 'credentials in the URL are not allowed (they would be logged); use the signature secret';
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (allowHosts.length > 0 && !allowHosts.some((h) => h.toLowerCase() === host)) return `host ${host} is not in mailin.webhook.allowHosts`;
  return null;
}

// Kept-alive connections to receivers: a webhook per message would otherwise pay a TCP (and TLS)
// handshake each time. Bounded per destination; idle sockets are closed after a while.
const AGENT_OPTIONS = { keepAlive: true, keepAliveMsecs: 10_000, maxSockets: 64, maxFreeSockets: 16, timeout: 60_000 };
const agents = { 'http:': new HttpAgent(AGENT_OPTIONS), 'https:': new HttpsAgent(AGENT_OPTIONS) };

export function httpCall(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string | Buffer },
  limits: HttpCallLimits,
): Promise<HttpAnswer> {
  const problem = destinationProblem(url, limits.allowHosts);
  if (problem) return Promise.reject(new HttpCallError(problem));
  const u = new URL(url);
  const body = init.body === undefined ? undefined : Buffer.isBuffer(init.body) ? init.body : Buffer.from(init.body);
  const headers: Record<string, string> = { ...init.headers };
  if (body) headers['content-length'] = String(body.length);
  return new Promise<HttpAnswer>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, answer?: HttpAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(answer!);
    };
    const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
    // Node's http client never follows redirects; a 3xx is turned into a failure below.
    const req = send(u, { method: init.method, headers, agent: agents[u.protocol as 'http:' | 'https:'] }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400) {
        res.resume();
        const location = String(res.headers.location ?? '?').slice(0, 200);
        return finish(new HttpCallError(`answered ${status} (redirect to ${location}): redirects are not followed`));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limits.maxResponseBytes) return finish(new HttpCallError(`the answer is larger than ${limits.maxResponseBytes} bytes`));
        chunks.push(chunk);
      });
      res.on('end', () => {
        const answerHeaders: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) answerHeaders[k] = Array.isArray(v) ? v.join(', ') : v;
        finish(null, { status, headers: answerHeaders, body: Buffer.concat(chunks, size) });
      });
      res.on('error', (err) => finish(new HttpCallError(`the answer broke off: ${err.message}`)));
      res.on('aborted', () => finish(new HttpCallError('the answer broke off')));
    });
    // One time limit over the whole exchange: connect, request, answer.
    const timer = setTimeout(() => finish(new HttpCallError(`no complete answer within ${limits.timeoutMs} ms`, true)), limits.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => finish(new HttpCallError(`request failed: ${err.code ?? err.message}`)));
    req.end(body);
  });
}
