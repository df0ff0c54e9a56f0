import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { LoginThrottle, Logger, Metrics } from '../../core/index.js';
import { errorMessage } from '../../core/index.js';
import { basicCredentials } from '../basic-auth.js';
import { KIM_JSON, kimError } from './error.js';

/** An account's limits as AccountLimit.yaml's `AccountLimit` schema names them. */
export interface AccountLimitAnswer {
  dataTimeToLive: number;
  maxMailSize: number;
  quota: number;
  remainQuota: number;
}

/** What getLimits needs from the service (service/account-limits.ts AccountLimitService fits). */
export interface AccountLimitBackend {
  /** The limits of the account these credentials log in to; null when they are wrong (or the account unknown or disabled). */
  limits(user: string, password: string): Promise<AccountLimitAnswer | null>;
  /** The same from a login-cache hit alone, undefined when that is not known without the full check. */
  limitsCached?(user: string, password: string): Promise<AccountLimitAnswer | undefined>;
}

export interface AccountLimitRouteOptions {
  backend: AccountLimitBackend;
  /** The service's login throttle, shared with SMTP AUTH and POP3. */
  throttle: LoginThrottle;
  logger: Logger;
  metrics: Metrics;
  /** How long a client module may keep the answer (Cache-Control max-age and Expires); 0: not at all. */
  maxAgeSeconds: number;
}

/** The base path of AccountLimit.yaml 1.1.4's `servers`. */
export const ACCOUNT_LIMIT_BASE = '/AccountLimit/v1.1';

/** RFC 7617: the realm, and that user name and password are UTF-8. */
const CHALLENGE = 'Basic realm="KIM", charset="UTF-8"';

/**
 * KIM's I_AccountLimit_Service (AccountLimit.yaml 1.1.4, gemSpec_CM_KOMLE A_22416):
 * `GET /AccountLimit/v1.1/limit` with KIMBasicAuth — the KIM account's own address and
 * password, checked as POP3 checks them (login cache, the shared per-address throttle: an
 * address that keeps failing is answered 401 without a check until its penalty is over).
 * Every failure is 401 with the same message, whether the account exists or not, so the
 * endpoint tells a guesser nothing about which addresses exist; errors carry
 * CommonSchemas.yaml's Error body with a traceId that the log line names too.
 */
export function accountLimitRoutes(opts: AccountLimitRouteOptions): FastifyPluginAsync {
  const count = (result: string): void => opts.metrics.inc('postamt_kim_getlimits_total', { result }, 1, 'getLimits calls (AccountLimit), by result');
  const refuse = (reply: FastifyReply, req: FastifyRequest, why: string, user: string | undefined, retryAfterMs = 0): FastifyReply => {
    count(why);
    if (retryAfterMs > 0) reply.header('retry-after', String(Math.ceil(retryAfterMs / 1000)));
    const { traceId, sent } = kimError(reply.header('www-authenticate', CHALLENGE), 401, 'authentication failed');
    opts.logger.info({ traceId, user: user?.slice(0, 256), client: req.ip, why }, 'getLimits refused');
    return sent;
  };
  const answer = (reply: FastifyReply, limits: AccountLimitAnswer): FastifyReply => {
    count('ok');
    if (opts.maxAgeSeconds > 0) {
      reply.header('cache-control', `private, max-age=${opts.maxAgeSeconds}`).header('expires', new Date(Date.now() + opts.maxAgeSeconds * 1000).toUTCString());
    } else reply.header('cache-control', 'no-store');
    // Only the schema's four fields, whatever else the backend's object carries.
    const { dataTimeToLive, maxMailSize, quota, remainQuota } = limits;
    return reply.status(200).type(KIM_JSON).send({ dataTimeToLive, maxMailSize, quota, remainQuota });
  };

  return async (app) => {
    app.get(`${ACCOUNT_LIMIT_BASE}/limit`, async (req, reply) => {
      const creds = basicCredentials(req.headers.authorization);
      if (!creds || !creds.user || !creds.password) return refuse(reply, req, 'no-credentials', creds?.user);
      const ip = req.ip;
      try {
        // A login-cache hit needs no password check, so it need not queue at the gate; a
        // penalised address gets no such shortcut (as in POP3).
        if (!opts.throttle.isPenalised(ip) && opts.backend.limitsCached) {
          const hit = await opts.backend.limitsCached(creds.user, creds.password).catch(() => undefined);
          if (hit) return answer(reply, hit);
        }
        const gone = new AbortController();
        const onClose = (): void => gone.abort();
        reply.raw.once('close', onClose);
        const admission = await opts.throttle.admit(ip, gone.signal);
        reply.raw.off('close', onClose);
        if (admission.kind === 'abandoned') return reply;
        if (admission.kind === 'penalised') return refuse(reply, req, 'penalised', creds.user, admission.waitMs);
        if (admission.kind === 'busy') {
          count('busy');
          const { traceId, sent } = kimError(reply.header('retry-after', '1'), 503, 'too many logins at once, try again later');
          opts.logger.info({ traceId, client: ip }, 'getLimits: login gate full');
          return sent;
        }
        let limits: AccountLimitAnswer | null;
        try {
          limits = await opts.backend.limits(creds.user, creds.password);
        } finally {
          admission.release();
        }
        if (!limits) {
          const penalty = opts.throttle.failure(ip);
          return refuse(reply, req, 'credentials', creds.user, penalty);
        }
        return answer(reply, limits);
      } catch (err) {
        count('error');
        const { traceId, sent } = kimError(reply, 500, 'internal error');
        opts.logger.error({ traceId, err: errorMessage(err) }, 'getLimits failed');
        return sent;
      }
    });
  };
}
