import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { X509Certificate } from 'node:crypto';
import { z } from 'zod';
import type { Logger, LoginThrottle, Metrics } from '../../core/index.js';
import { AccountManagerError, checkAccountManagerJwt, JwtError, type AccountFields, type AccountManager, type AccountManagerErrorKind, type CheckedJwt } from '../../service/index.js';
import { KIM_JSON, kimError } from './error.js';

/** The base path of AccountManager.yaml 2.4.0's `servers`. */
export const ACCOUNT_MANAGER_BASE = '/AccountMgmt/v2.4';

export interface AccountManagerRouteOptions {
  manager: AccountManager;
  /** The CAs of the cards' AUT certificates; asked per call (the files may appear after start: the demo's PKI). */
  trustAnchors: () => readonly X509Certificate[];
  audiences: readonly string[];
  jwtExpiration: number;
  clockSkewSeconds: number;
  /**
   * The service's login throttle (shared with SMTP AUTH, POP3, getLimits): a wrong password or
   * OTP counts as a failed login of the client address; a penalised address is answered 401
   * without any check until its penalty is over.
   */
  throttle?: LoginThrottle;
  logger: Logger;
  /** postamt_kim_accountmanager_total{op,status}. */
  metrics?: Metrics;
  now?: () => number;
}

const STATUS: Record<AccountManagerErrorKind, number> = { auth: 401, 'not-found': 404, conflict: 409, 'password-rule': 420, 'kim-version': 422, 'not-deregistered': 403, 'otp-invalid': 403, 'otp-expired': 408, 'not-supported': 500, 'bad-request': 400 };

/** Password (CommonSchemas.yaml): base64, at most 256 characters. */
const password = z.string().max(256).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'not base64');
/** The Account schema; unknown fields are refused (a misspelt field silently ignored would surprise). maxMailSize, regStat, deregDate are read-only here. */
const accountBody = z
  .object({
    referenceID: z.string().max(256).optional(),
    username: z.string().max(256).email().optional(),
    password: password.optional(),
    kimVersion: z.string().max(4).optional(),
    regStat: z.enum(['registered', 'deregistered']).optional(),
    deregDate: z.number().int().optional(),
    dataTimeToLive: z.number().int().min(10).max(365).optional(),
    maxMailSize: z.number().int().optional(),
    noVzdMailEntry: z.boolean().optional(),
  })
  .strict();

/** OutOfOfficeNotification; RFC 3339 date-times. */
const dateTime = z.string().max(64).refine((v) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v) && !Number.isNaN(Date.parse(v)), 'not an RFC 3339 date-time');
const outOfOfficeBody = z.object({ startDate: dateTime.optional(), endDate: dateTime.optional(), message: z.string().max(2048).optional(), active: z.boolean().optional() }).strict();

/**
 * CertificateParameters: commonName is required (the document's 400 "no CommonName"); the CN
 * becomes `<commonName>#CM`, at most 64 characters (X.520). No control characters: it is shown
 * in certificate dialogs and logs.
 */
const certBody = z
  .object({
    commonName: z.string().min(1).max(61).regex(/^[^\u0000-\u001f\u007f]+$/, 'no control characters'),
    certPassword: password.optional(),
  })
  .strict();

class BadRequest extends Error {}

function parsed<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {});
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new BadRequest(`${i.path.join('.') || 'body'}: ${i.message}`);
  }
  return r.data;
}

const decode = (b64: string): string => Buffer.from(b64, 'base64').toString('utf8');

function headerPassword(req: FastifyRequest, name: string): string {
  const v = req.headers[name];
  if (typeof v !== 'string' || v === '') throw new BadRequest(`header ${name} (base64) is required`);
  const r = password.safeParse(v);
  if (!r.success) throw new BadRequest(`header ${name}: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return decode(v);
}

function fields(body: unknown, required: boolean): AccountFields {
  if (body === undefined || body === null) {
    if (required) throw new BadRequest('a JSON body (Account) is required');
    return {};
  }
  const r = accountBody.safeParse(body);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new BadRequest(`${i.path.join('.') || 'body'}: ${i.message}`);
  }
  const { password: pw, referenceID, username, kimVersion, dataTimeToLive, noVzdMailEntry } = r.data;
  return { referenceID, username, kimVersion, dataTimeToLive, noVzdMailEntry, ...(pw !== undefined ? { password: decode(pw) } : {}) };
}

/**
 * KIM's I_AccountManager_Service (AccountManager.yaml 2.4.0) under /AccountMgmt/v2.4: every
 * call carries the Administrationsmodul's JWT (KIMBearerAuth, gemSpec_CM_KOMLE A_19457-02),
 * checked here and used once; then the operation (service/account-manager). Every failure is
 * CommonSchemas.yaml's Error body with a traceId the log line names; JWT failures are all 401.
 */
export function accountManagerRoutes(o: AccountManagerRouteOptions): FastifyPluginAsync {
  const now = o.now ?? (() => Math.floor(Date.now() / 1000));
  const fail = (reply: FastifyReply, req: FastifyRequest, status: number, message: string): FastifyReply => {
    const { traceId, sent } = kimError(reply, status, message);
    o.logger.info({ traceId, status, path: req.routeOptions.url, why: message }, 'Account Manager refused');
    return sent;
  };
  const jwtOf = async (req: FastifyRequest): Promise<CheckedJwt> => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) throw new JwtError('no Bearer JWT in Authorization');
    const jwt = checkAccountManagerJwt(m[1]!, { trustAnchors: o.trustAnchors(), now: now(), maxLifetimeSeconds: o.jwtExpiration, clockSkewSeconds: o.clockSkewSeconds, audiences: o.audiences });
    if (!(await o.manager.firstUse(jwt))) throw new JwtError('this JWT has been used already (replay)');
    return jwt;
  };
  const handle = (op: string, fn: (req: FastifyRequest, jwt: CheckedJwt) => Promise<unknown>) => async (req: FastifyRequest, reply: FastifyReply) => {
    const sent = await run(fn, req, reply);
    o.metrics?.inc('postamt_kim_accountmanager_total', { op, status: String(reply.statusCode) }, 1, 'Account Manager calls by operation and status');
    return sent;
  };
  const run = async (fn: (req: FastifyRequest, jwt: CheckedJwt) => Promise<unknown>, req: FastifyRequest, reply: FastifyReply) => {
    try {
      if (o.throttle?.isPenalised(req.ip)) {
        reply.header('retry-after', String(Math.ceil(o.throttle.penalisedFor(req.ip) / 1000)));
        return fail(reply, req, 401, 'too many failed attempts from this address, try again later');
      }
      const jwt = await jwtOf(req);
      const out = await fn(req, jwt);
      if (out === undefined) return reply.status(204).send();
      return reply.status(200).type(KIM_JSON).send(out);
    } catch (err) {
      if (err instanceof JwtError) return fail(reply.header('www-authenticate', 'Bearer realm="KIM"'), req, 401, err.message);
      if (err instanceof BadRequest) return fail(reply, req, 400, err.message);
      if (err instanceof AccountManagerError) {
        if (err.kind === 'auth' || err.kind === 'otp-invalid') o.throttle?.failure(req.ip);
        return fail(reply, req, STATUS[err.kind], err.message);
      }
      throw err;
    }
  };
  const user = (req: FastifyRequest): string => (req.params as { username: string }).username;

  return async (app) => {
    // Bodies are small (an Account); anything the parser refuses is the document's 400.
    app.setErrorHandler((err: FastifyError, req, reply) => {
      if (err.statusCode && err.statusCode < 500) return fail(reply, req, 400, err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'the body is too large' : 'the body is not a JSON Account');
      const { traceId, sent } = kimError(reply, 500, 'internal error');
      o.logger.error({ traceId, err: err.message }, 'Account Manager failed');
      return sent;
    });
    const opts = { bodyLimit: 16 * 1024 };
    app.post(`${ACCOUNT_MANAGER_BASE}/account`, opts, handle('registerAccount', async (req, jwt) => {
      const ini = headerPassword(req, 'inipassword');
      await o.manager.register(jwt, ini, fields(req.body, true));
    }));
    app.get(`${ACCOUNT_MANAGER_BASE}/account/:username`, handle('getAccount', async (req, jwt) => o.manager.get(jwt, user(req), headerPassword(req, 'password'))));
    app.put(`${ACCOUNT_MANAGER_BASE}/account/:username`, opts, handle('setAccount', async (req, jwt) => {
      await o.manager.set(jwt, user(req), headerPassword(req, 'password'), fields(req.body, false));
    }));
    app.delete(`${ACCOUNT_MANAGER_BASE}/account/:username`, handle('deregisterAccount', async (req, jwt) => {
      await o.manager.deregister(jwt, user(req), headerPassword(req, 'password'));
    }));
    app.put(`${ACCOUNT_MANAGER_BASE}/account/:username/revokeDeregistration`, handle('revokeDeregistration', async (req, jwt) => {
      await o.manager.revokeDeregistration(jwt, user(req), headerPassword(req, 'password'));
    }));
    app.get(`${ACCOUNT_MANAGER_BASE}/account/:username/outofoffice`, handle('getOutOfOffice', async (req, jwt) => o.manager.getOutOfOffice(jwt, user(req), headerPassword(req, 'password'))));
    app.put(`${ACCOUNT_MANAGER_BASE}/account/:username/outofoffice`, opts, handle('updateOutOfOffice', async (req, jwt) => {
      await o.manager.updateOutOfOffice(jwt, user(req), headerPassword(req, 'password'), parsed(outOfOfficeBody, req.body));
    }));
    app.get(`${ACCOUNT_MANAGER_BASE}/account/:username/OTP`, handle('getOTP', async (req, jwt) => ({ otp: Buffer.from(await o.manager.getOtp(jwt, user(req), headerPassword(req, 'password')), 'utf8').toString('base64') })));
    app.put(`${ACCOUNT_MANAGER_BASE}/account/:username/telematikID`, handle('setTID', async (req, jwt) => {
      await o.manager.setTid(jwt, user(req), headerPassword(req, 'password'), headerPassword(req, 'otp'));
    }));
    // createCert: the client module's TLS certificate C.CM.TLS-CS from the provider's CA, in a PKCS#12 file.
    app.post(`${ACCOUNT_MANAGER_BASE}/account/:username/cert`, opts, handle('createCert', async (req, jwt) => {
      const pw = headerPassword(req, 'password');
      if (req.body === undefined || req.body === null) throw new BadRequest('a JSON body (CertificateParameters with commonName) is required');
      const body = parsed(certBody, req.body);
      const p12 = await o.manager.createCert(jwt, user(req), pw, { commonName: body.commonName, ...(body.certPassword !== undefined ? { certPassword: decode(body.certPassword) } : {}) });
      return { file: Buffer.from(p12).toString('base64') };
    }));
  };
}
