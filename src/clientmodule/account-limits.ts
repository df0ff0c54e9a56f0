import { HttpClientError, httpCall, errorMessage, type Logger } from '../core/index.js';
import { SmtpReply } from '../smtp/index.js';

/** What getLimits answers (AccountLimit.yaml 1.1.4). */
export interface AccountLimits {
  dataTimeToLive: number;
  maxMailSize: number;
  quota: number;
  remainQuota: number;
}

export interface AccountLimitClientOptions {
  /** The service's I_AccountLimit_Service base URL; `{host}` stands for the mail service's host in the user name. */
  url: string;
  ca: string[];
  rejectUnauthorized: boolean;
  timeoutMs: number;
  /** The longest an answer is kept (A_22416: at most 24 h); shorter when the answer's Expires/max-age says so. */
  cacheTtlMs: number;
  maxEntries: number;
  logger: Logger;
  now?: () => number;
}

/**
 * The client module's getLimits (gemSpec_CM_KOMLE A_22416): asked when a PS sends, with the
 * KIM account's own address and password (KIMBasicAuth), kept per account and service for at
 * most `cacheTtlMs` — or until the Expires the service gave, if sooner (no-store: not kept).
 * Its maxMailSize is the size check of A_19355-01, its dataTimeToLive the Expires of A_22417.
 * Failures are SmtpReplys for the PS: without the limits nothing is sent (a temporary failure).
 */
export class AccountLimitClient {
  private readonly cache = new Map<string, { limits: AccountLimits; until: number }>();
  private readonly now: () => number;

  constructor(private readonly opts: AccountLimitClientOptions) {
    this.now = opts.now ?? Date.now;
  }

  async limits(host: string, address: string, password: string): Promise<AccountLimits> {
    const key = `${host.toLowerCase()}\u0000${address.toLowerCase()}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > this.now()) return hit.limits;
    this.cache.delete(key);
    const url = `${this.opts.url.replace('{host}', host.includes(':') ? `[${host}]` : host).replace(/\/+$/, '')}/limit`;
    let res;
    try {
      res = await httpCall({
        method: 'GET',
        url,
        headers: { authorization: `Basic ${Buffer.from(`${address}:${password}`, 'utf8').toString('base64')}`, accept: 'application/json' },
        deadlineMs: this.opts.timeoutMs,
        maxResponseBytes: 64 * 1024,
        tls: { ca: this.opts.ca, rejectUnauthorized: this.opts.rejectUnauthorized },
      });
    } catch (err) {
      this.opts.logger.warn({ url, err: err instanceof HttpClientError ? `${err.kind}: ${err.message}` : errorMessage(err) }, 'getLimits failed');
      throw new SmtpReply(451, '4.4.1', 'the account limits (getLimits) cannot be fetched from the mail service, try again later');
    }
    if (res.status !== 200) {
      this.opts.logger.warn({ url, status: res.status, traceId: traceIdOf(res.body) }, 'getLimits refused');
      throw new SmtpReply(451, '4.7.0', `the mail service refused getLimits (HTTP ${res.status}), try again later`);
    }
    const limits = parseLimits(res.body);
    if (!limits) {
      this.opts.logger.warn({ url }, 'getLimits answered no valid AccountLimit');
      throw new SmtpReply(451, '4.4.1', 'the mail service answered getLimits with no valid account limits, try again later');
    }
    const keep = Math.min(this.opts.cacheTtlMs, allowedMs(res.headers, this.now()));
    if (keep > 0) {
      this.cache.set(key, { limits, until: this.now() + keep });
      if (this.cache.size > this.opts.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    }
    return limits;
  }
}

/** How long the answer's own headers allow it to be kept: no-store 0, max-age, Expires; none of them: unbounded. */
function allowedMs(headers: Record<string, string>, now: number): number {
  const cc = headers['cache-control'] ?? '';
  if (/\bno-store\b|\bno-cache\b/i.test(cc)) return 0;
  const maxAge = /\bmax-age=(\d+)/i.exec(cc);
  if (maxAge) return Number(maxAge[1]) * 1000;
  if (headers.expires !== undefined) {
    const t = Date.parse(headers.expires);
    return Number.isNaN(t) ? 0 : Math.max(0, t - now);
  }
  return Number.POSITIVE_INFINITY;
}

function parseLimits(body: Buffer): AccountLimits | undefined {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  const int = (x: unknown, min: number, max = Number.MAX_SAFE_INTEGER) => (typeof x === 'number' && Number.isSafeInteger(x) && x >= min && x <= max ? x : undefined);
  const dataTimeToLive = int(o.dataTimeToLive, 10, 365);
  const maxMailSize = int(o.maxMailSize, 734_003_200);
  const quota = int(o.quota ?? -1, -1);
  const remainQuota = int(o.remainQuota ?? -1, -1);
  if (dataTimeToLive === undefined || maxMailSize === undefined || quota === undefined || remainQuota === undefined) return undefined;
  return { dataTimeToLive, maxMailSize, quota, remainQuota };
}

function traceIdOf(body: Buffer): string | undefined {
  try {
    const t = (JSON.parse(body.toString('utf8')) as { traceId?: unknown }).traceId;
    return typeof t === 'string' ? t.slice(0, 255) : undefined;
  } catch {
    return undefined;
  }
}
