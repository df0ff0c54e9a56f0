import { httpCall, HttpClientError } from '../../core/index.js';
import type { IntegrationUser, UserSource } from '../types.js';

export interface RemoteSourceOptions {
  name: string;
  priority: number;
  url: string;
  user: string;
  password: string;
  ca?: string;
  rejectUnauthorized: boolean;
  /** Longest time for a whole cmd=auth exchange. */
  timeoutMs: number;
  /** Longest time for a whole cmd=list exchange (the answer may be large). */
  listTimeoutMs: number;
  maxResponseBytes: number;
}

export class RemoteSourceError extends Error {}

/**
 * Another Application Integration server (MailStore's protocol, seed 001), so Postamt can
 * stand in front of an existing one, over core/http-client (each exchange within its deadline,
 * no redirects). Its list answer is read whole, bounded by `maxResponseBytes`, and checked
 * before any of it is passed on: a list cut short must not reach an archive that deletes
 * vanished users. It cannot say "unknown user", so its `false` is final: give it the highest
 * priority number (asked last).
 */
export class RemoteSource implements UserSource {
  readonly type = 'integration';
  readonly name: string;
  readonly priority: number;

  constructor(private readonly opts: RemoteSourceOptions) {
    this.name = opts.name;
    this.priority = opts.priority;
  }

  private async post(form: Record<string, string>, deadlineMs: number, signal?: AbortSignal): Promise<unknown> {
    let answer;
    try {
      answer = await httpCall({
        method: 'POST',
        url: this.opts.url,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${this.opts.user}:${this.opts.password}`).toString('base64')}`,
          accept: 'application/json',
        },
        body: new URLSearchParams(form).toString(),
        deadlineMs,
        maxResponseBytes: this.opts.maxResponseBytes,
        tls: { rejectUnauthorized: this.opts.rejectUnauthorized, ...(this.opts.ca ? { ca: this.opts.ca } : {}) },
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (!(err instanceof HttpClientError)) throw err;
      if (err.kind === 'too-large') throw new RemoteSourceError(`${this.name}: answer larger than maxResponseBytes (${this.opts.maxResponseBytes})`);
      if (err.kind === 'timeout') throw new RemoteSourceError(`${this.name}: no complete answer to cmd=${form.cmd} within ${deadlineMs} ms`);
      if (err.kind === 'cut-off') throw new RemoteSourceError(`${this.name}: the answer was cut off`);
      throw new RemoteSourceError(`${this.name}: ${err.message}`);
    }
    if (answer.status !== 200) throw new RemoteSourceError(`${this.name}: HTTP ${answer.status} for cmd=${form.cmd}`);
    try {
      return JSON.parse(answer.body.toString('utf8'));
    } catch {
      throw new RemoteSourceError(`${this.name}: the answer to cmd=${form.cmd} is not JSON`);
    }
  }

  async *list(signal?: AbortSignal): AsyncIterable<IntegrationUser> {
    const data = await this.post({ cmd: 'list' }, this.opts.listTimeoutMs, signal);
    if (!Array.isArray(data)) throw new RemoteSourceError(`${this.name}: cmd=list did not answer a JSON array`);
    // Checked whole before the first user is passed on.
    const users = data.map((u, i) => checkUser(u, i, this.name));
    for (const u of users) yield u;
  }

  async authenticate(user: string, password: string): Promise<boolean | null> {
    const data = (await this.post({ cmd: 'auth', user, pass: password }, this.opts.timeoutMs)) as { succeeded?: unknown } | null;
    if (!data || typeof data !== 'object' || typeof data.succeeded !== 'boolean') {
      throw new RemoteSourceError(`${this.name}: cmd=auth did not answer {"succeeded": true|false}`);
    }
    return data.succeeded;
  }
}

function checkUser(u: unknown, i: number, source: string): IntegrationUser {
  const bad = (why: string) => new RemoteSourceError(`${source}: user #${i} in cmd=list ${why}`);
  if (!u || typeof u !== 'object') throw bad('is not an object');
  const o = u as Record<string, unknown>;
  if (typeof o.userName !== 'string' || o.userName === '') throw bad('has no userName');
  const out: IntegrationUser = { userName: o.userName };
  for (const k of ['distinguishedName', 'fullName'] as const) {
    if (o[k] === undefined || o[k] === null) continue;
    if (typeof o[k] !== 'string') throw bad(`has a ${k} that is not a string`);
    out[k] = o[k];
  }
  if (o.emailAddresses !== undefined && o.emailAddresses !== null) {
    if (!Array.isArray(o.emailAddresses) || !o.emailAddresses.every((a) => typeof a === 'string')) throw bad('has emailAddresses that are not strings');
    out.emailAddresses = o.emailAddresses;
  }
  return out;
}
