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

export async function httpCall(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string | Buffer },
  limits: HttpCallLimits,
): Promise<HttpAnswer> {
  const problem = destinationProblem(url, limits.allowHosts);
  if (problem) throw new HttpCallError(problem);
  const signal = AbortSignal.timeout(limits.timeoutMs);
  try {
    const res = await fetch(url, { method: init.method, headers: init.headers, body: init.body ?? null, redirect: 'manual', signal });
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel().catch(() => undefined);
      throw new HttpCallError(`answered ${res.status} (redirect to ${(res.headers.get('location') ?? '?').slice(0, 200)}): redirects are not followed`);
    }
    const body = await readBounded(res, limits.maxResponseBytes);
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => (headers[k] = v));
    return { status: res.status, headers, body };
  } catch (err) {
    if (err instanceof HttpCallError) throw err;
    if (signal.aborted) throw new HttpCallError(`no complete answer within ${limits.timeoutMs} ms`, true);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new HttpCallError(`${(err as Error).message}${cause ? `: ${cause.code ?? cause.message ?? ''}` : ''}`);
  }
}

async function readBounded(res: Response, max: number): Promise<Buffer> {
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw new HttpCallError(`the answer is larger than ${max} bytes`);
    }
    chunks.push(Buffer.from(value.buffer, value.byteOffset, value.length));
  }
  return Buffer.concat(chunks, size);
}
