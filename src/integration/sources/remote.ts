import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { IntegrationUser, UserSource } from '../types.js';

export interface RemoteSourceOptions {
  name: string;
  priority: number;
  url: string;
  user: string;
  password: string;
  ca?: string;
  rejectUnauthorized: boolean;
  timeoutMs: number;
  maxResponseBytes: number;
}

export class RemoteSourceError extends Error {}

/**
 * Another Application Integration server (MailStore's protocol, seed 001), so Postamt can
 * stand in front of an existing one. Its list answer is read whole, bounded by
 * `maxResponseBytes`, and checked before any of it is passed on: a list cut short must not
 * reach an archive that deletes vanished users. It cannot say "unknown user", so its
 * `false` is final: give it the highest priority number (asked last).
 */
export class RemoteSource implements UserSource {
  readonly type = 'integration';
  readonly name: string;
  readonly priority: number;

  constructor(private readonly opts: RemoteSourceOptions) {
    this.name = opts.name;
    this.priority = opts.priority;
  }

  private post(form: Record<string, string>, signal?: AbortSignal): Promise<unknown> {
    const body = Buffer.from(new URLSearchParams(form).toString());
    const url = new URL(this.opts.url);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        req.destroy();
        reject(err);
      };
      const req = send(
        url,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': String(body.length),
            authorization: `Basic ${Buffer.from(`${this.opts.user}:${this.opts.password}`).toString('base64')}`,
            accept: 'application/json',
          },
          timeout: this.opts.timeoutMs,
          ...(signal ? { signal } : {}),
          ...(url.protocol === 'https:' ? { rejectUnauthorized: this.opts.rejectUnauthorized, ...(this.opts.ca ? { ca: this.opts.ca } : {}) } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > this.opts.maxResponseBytes) return fail(new RemoteSourceError(`${this.name}: answer larger than maxResponseBytes (${this.opts.maxResponseBytes})`));
            chunks.push(c);
          });
          res.on('error', (err) => fail(err));
          res.on('close', () => {
            if (settled) return;
            if (!res.complete) return fail(new RemoteSourceError(`${this.name}: the answer was cut off`));
            if (res.statusCode !== 200) return fail(new RemoteSourceError(`${this.name}: HTTP ${res.statusCode} for cmd=${form.cmd}`));
            settled = true;
            try {
              resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
            } catch {
              reject(new RemoteSourceError(`${this.name}: the answer to cmd=${form.cmd} is not JSON`));
            }
          });
        },
      );
      req.on('timeout', () => fail(new RemoteSourceError(`${this.name}: no answer within ${this.opts.timeoutMs} ms`)));
      req.on('error', (err) => fail(err));
      req.end(body);
    });
  }

  async *list(signal?: AbortSignal): AsyncIterable<IntegrationUser> {
    const data = await this.post({ cmd: 'list' }, signal);
    if (!Array.isArray(data)) throw new RemoteSourceError(`${this.name}: cmd=list did not answer a JSON array`);
    // Checked whole before the first user is passed on.
    const users = data.map((u, i) => checkUser(u, i, this.name));
    for (const u of users) yield u;
  }

  async authenticate(user: string, password: string): Promise<boolean | null> {
    const data = (await this.post({ cmd: 'auth', user, pass: password })) as { succeeded?: unknown } | null;
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
