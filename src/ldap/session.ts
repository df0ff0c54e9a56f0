import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger, LoginThrottle, Metrics, ServerTls } from '../core/index.js';
import type { BerError } from '../wire/ber/index.js';
import {
  LDAP_OID,
  LdapDecodeError,
  RESPONSE_OP,
  bindResponse,
  decodeLdapMessage,
  encodeMessage,
  extendedResponse,
  noticeOfDisconnection,
  resultMessage,
  type LdapOperation,
  type LdapOperationType,
  type LdapRequest,
} from '../wire/ldap/index.js';
import { LdapResultCode, LdapResultError, type LdapBackend } from './backend.js';
import type { FrameHandler, LdapConnection } from './connection.js';
import { isLoopback } from '../core/index.js';
import type { LdapLimits } from './options.js';
import { PagedSearches } from './paging.js';
import { resultName, type OpOutcome } from './result-codes.js';
import type { RootDseInfo } from './root-dse.js';
import { AbortReason, runCompare, runSearch, searchNow, type SearchContext } from './search.js';

export interface SessionOptions {
  id: number;
  listener: string;
  backend: LdapBackend;
  limits: LdapLimits;
  /** Offered for StartTLS on a `starttls` listener; undefined elsewhere (LDAPS is TLS already). */
  startTls: ServerTls | undefined;
  rootDse: RootDseInfo;
  log: Logger;
  metrics: Metrics | undefined;
  throttle: LoginThrottle | undefined;
  /** A failed StartTLS handshake, for the listener's count and log line. */
  tlsFailed(remote: string, reason: string): void;
}

interface Outstanding {
  type: LdapOperationType;
  abort: AbortController;
}

/** Controls the server implements, per operation; an unknown critical one fails the operation. */
const SUPPORTED_CONTROLS: Partial<Record<LdapOperationType, readonly string[]>> = { search: [LDAP_OID.pagedResults] };

const READ_ONLY = 'the directory is read-only for clients: the platform maintains its data';

/**
 * One LDAP session (RFC 4511): decodes requests, runs many at once and answers each by its
 * message ID in whatever order they finish. Binds, StartTLS, abandon, unbind and the refused
 * writes are here; searches and compares in search.ts. Never throws into the socket layer:
 * every failure becomes a result code, a Notice of Disconnection, or a closed connection.
 */
export class LdapSession implements FrameHandler {
  private readonly ops = new Map<number, Outstanding>();
  private readonly paging: PagedSearches;
  private readonly search: SearchContext;
  private bindDn = '';
  private clientDone = false;
  private finished = false;
  /** Fired at close: a bind waiting for its check is dropped, a failure delay cut short. */
  private readonly gone = new AbortController();

  constructor(
    private readonly conn: LdapConnection,
    private readonly opts: SessionOptions,
  ) {
    this.paging = new PagedSearches(opts.limits.maxPagedSearches);
    const self = this;
    this.search = {
      backend: opts.backend,
      limits: opts.limits,
      paging: this.paging,
      rootDse: opts.rootDse,
      get bound() {
        return self.bindDn !== '';
      },
      write: (bytes) => conn.write(bytes),
      drain: () => conn.drain(),
    };
  }

  /** Runs until the connection closes. */
  async run(): Promise<void> {
    this.conn.start(this);
    await this.conn.closed;
    this.finished = true;
    this.gone.abort();
    for (const op of this.ops.values()) op.abort.abort(new AbortReason('closed'));
    this.paging.clear();
  }

  /** Server shutdown: tell the client and close. */
  stop(): void {
    this.disconnect(LdapResultCode.unavailable, 'the server is shutting down');
  }

  // ---- FrameHandler ----

  frame(bytes: Buffer): void {
    let req: LdapRequest;
    try {
      req = decodeLdapMessage(bytes, { maxFilterDepth: this.opts.limits.maxFilterDepth });
    } catch (err) {
      this.badRequest(err);
      return;
    }
    if (req.messageId === 0) return this.disconnect(LdapResultCode.protocolError, 'message ID 0 is reserved for unsolicited notifications');
    if (this.ops.has(req.messageId) && req.op.type !== 'abandon') return this.disconnect(LdapResultCode.protocolError, `message ID ${req.messageId} is still in use`);
    this.dispatch(req);
  }

  framingError(err: BerError): void {
    this.count('invalid', 'protocolError');
    this.opts.log.info({ conn: this.opts.id, remote: this.conn.remoteAddress, err: err.message }, 'ldap bad input');
    this.disconnect(LdapResultCode.protocolError, err.code === 'too-large' ? 'request too large' : 'malformed request');
  }

  idle(): void {
    if (this.ops.size > 0) return; // busy on our side: the client is waiting, not idle
    this.opts.log.info({ conn: this.opts.id }, 'ldap idle timeout');
    this.disconnect(LdapResultCode.unavailable, 'idle timeout');
  }

  requestTimedOut(): void {
    this.opts.log.info({ conn: this.opts.id, remote: this.conn.remoteAddress }, 'ldap request timeout');
    this.opts.metrics?.inc('postamt_ldap_cutoffs_total', { listener: this.opts.listener, why: 'request' }, 1, 'LDAP connections ended by the server because a request did not arrive in time');
    this.disconnect(LdapResultCode.unavailable, 'the request did not arrive in time');
  }

  inputEnded(): void {
    this.clientDone = true;
    if (this.ops.size === 0) this.conn.end();
  }

  // ---- dispatch ----

  private badRequest(err: unknown): void {
    const e = err instanceof LdapDecodeError ? err : new LdapDecodeError(String(err), true);
    this.opts.log.info({ conn: this.opts.id, remote: this.conn.remoteAddress, msgid: e.messageId, op: e.requestType, err: e.message }, 'ldap bad request');
    this.count(e.requestType ?? 'invalid', 'protocolError');
    const responseOp = e.requestType ? RESPONSE_OP[e.requestType] : undefined;
    if (!e.fatal && e.messageId !== undefined && responseOp !== undefined) {
      this.conn.write(encodeMessage(resultMessage(e.messageId, responseOp, { resultCode: LdapResultCode.protocolError, diagnosticMessage: e.message })));
      return;
    }
    this.disconnect(LdapResultCode.protocolError, 'malformed request');
  }

  private dispatch(req: LdapRequest): void {
    const { op } = req;
    const unknownCritical = req.controls.find((c) => c.critical && !(SUPPORTED_CONTROLS[op.type] ?? []).includes(c.type));
    if (unknownCritical && op.type !== 'abandon' && op.type !== 'unbind') {
      this.answer(req, LdapResultCode.unavailableCriticalExtension, `control ${unknownCritical.type} is not supported`, { control: unknownCritical.type });
      return;
    }
    switch (op.type) {
      case 'unbind':
        this.logOp(req, { result: 'none' }, performance.now());
        for (const o of this.ops.values()) o.abort.abort(new AbortReason('closed'));
        this.conn.end();
        return;
      case 'abandon': {
        const target = this.ops.get(op.messageId);
        this.logOp(req, { result: 'none', target: op.messageId, found: target !== undefined }, performance.now());
        target?.abort.abort(new AbortReason('abandon'));
        return;
      }
      case 'bind':
        // RFC 4511 4.2.1: operations still running when a bind arrives are abandoned.
        for (const o of this.ops.values()) o.abort.abort(new AbortReason('bind'));
        this.track(req, () => this.bind(req.messageId, op));
        return;
      case 'search': {
        // Answered from memory at once when the backend can; otherwise tracked and awaited.
        const started = performance.now();
        let now: OpOutcome | undefined;
        try {
          now = searchNow(this.search, req.messageId, op, req.controls);
        } catch (err) {
          now = this.failed(req, err, new AbortController());
        }
        if (now !== undefined) {
          this.logOp(req, now, started);
          return;
        }
        this.track(req, (ac) => runSearch(this.search, req.messageId, op, req.controls, ac));
        return;
      }
      case 'compare':
        this.track(req, (ac) => runCompare(this.search, req.messageId, op, ac));
        return;
      case 'add':
      case 'modify':
      case 'delete':
      case 'modifyDn':
        this.answer(req, LdapResultCode.unwillingToPerform, READ_ONLY, { dn: 'entry' in op ? op.entry : op.type === 'modify' ? op.object : '' });
        return;
      case 'extended':
        this.extended(req, op);
        return;
    }
  }

  /** Runs an operation, keeping it in `ops` while it runs (for abandon and the per-connection limit). */
  private track(req: LdapRequest, run: (ac: AbortController) => Promise<OpOutcome>): void {
    const started = performance.now();
    const ac = new AbortController();
    this.ops.set(req.messageId, { type: req.op.type, abort: ac });
    if (this.ops.size >= this.opts.limits.maxOperationsPerConnection) this.conn.pauseInput();
    run(ac)
      .catch((err: unknown) => this.failed(req, err, ac))
      .then((outcome) => {
        this.ops.delete(req.messageId);
        this.logOp(req, outcome, started);
        if (this.finished) return;
        if (this.ops.size < this.opts.limits.maxOperationsPerConnection) this.conn.resumeInput();
        if (this.clientDone && this.ops.size === 0) this.conn.end();
      })
      .catch((err: unknown) => this.opts.log.error({ err, conn: this.opts.id }, 'ldap session error'));
  }

  /** An operation threw: a result code for the client, the details only in our log. */
  private failed(req: LdapRequest, err: unknown, ac: AbortController): OpOutcome {
    if (ac.signal.aborted && (ac.signal.reason as AbortReason | undefined)?.why !== 'time') return { result: 'abandoned' };
    if (err instanceof LdapResultError) {
      this.respond(req, LdapResultCode[err.code], err.message, err.matchedDn);
      return { result: err.code };
    }
    this.opts.log.error({ err, conn: this.opts.id, msgid: req.messageId, op: req.op.type }, 'ldap operation failed');
    this.respond(req, LdapResultCode.other, 'internal error');
    return { result: 'other' };
  }

  private respond(req: LdapRequest, code: number, message: string, matchedDn = ''): void {
    const responseOp = RESPONSE_OP[req.op.type];
    if (responseOp === undefined || this.finished) return;
    this.conn.write(encodeMessage(resultMessage(req.messageId, responseOp, { resultCode: code, diagnosticMessage: message, matchedDn })));
  }

  /** Answers at once with a result code (refused writes, unsupported controls). */
  private answer(req: LdapRequest, code: number, message: string, detail: Record<string, unknown> = {}): void {
    const started = performance.now();
    this.respond(req, code, message);
    this.logOp(req, { result: resultName(code), ...detail }, started);
  }

  // ---- bind ----

  private async bind(messageId: number, op: LdapOperation & { type: 'bind' }): Promise<OpOutcome> {
    this.bindDn = '';
    const detail = { dn: op.name, method: op.auth.method };
    const reply = (code: number, message = ''): OpOutcome => {
      if (!this.finished) this.conn.write(encodeMessage(bindResponse(messageId, { resultCode: code, diagnosticMessage: message })));
      this.opts.metrics?.inc('postamt_ldap_binds_total', { listener: this.opts.listener, result: resultName(code) });
      return { result: resultName(code), ...detail };
    };
    if (op.version !== 3) return reply(LdapResultCode.protocolError, 'only LDAPv3 is supported');
    if (op.auth.method === 'sasl') return reply(LdapResultCode.authMethodNotSupported, 'SASL is not supported; use a simple bind');
    const password = op.auth.password;
    if (password.length === 0) {
      if (op.name === '') return reply(LdapResultCode.success);
      // RFC 4513 5.1.2: a name without a password is an unauthenticated bind, refused by default.
      return reply(LdapResultCode.unwillingToPerform, 'unauthenticated bind (name without password) is not allowed');
    }
    const policy = this.opts.limits.allowPlaintextBind;
    const plaintextOk = this.conn.isSecure || policy === 'always' || (policy === 'loopback' && isLoopback(this.conn.remoteAddress));
    if (!plaintextOk) return reply(LdapResultCode.confidentialityRequired, 'a simple bind needs TLS (StartTLS or LDAPS)');
    // The gate comes before the password is checked: a penalised address is answered without
    // a check, and checks from one address run one after the other.
    const admission = this.opts.throttle ? await this.opts.throttle.admit(this.conn.remoteAddress, this.gone.signal) : undefined;
    if (admission?.kind === 'abandoned') return { result: 'abandoned', ...detail };
    if (admission && admission.kind !== 'check') {
      await this.failureDelay(admission.kind === 'penalised' ? admission.waitMs : 0);
      return reply(LdapResultCode.busy, admission.kind === 'penalised' ? 'too many failed binds from your address; try again later' : 'too many binds at once; try again later');
    }
    let identity: Awaited<ReturnType<LdapBackend['bind']>>;
    try {
      identity = await this.opts.backend.bind(op.name, password.toString('utf8'));
    } finally {
      if (admission?.kind === 'check') admission.release();
    }
    if (identity === null) {
      await this.failureDelay(this.opts.throttle?.failure(this.conn.remoteAddress) ?? 0);
      return reply(LdapResultCode.invalidCredentials);
    }
    this.bindDn = op.name;
    return { ...reply(LdapResultCode.success), identity };
  }

  private async failureDelay(penalty: number): Promise<void> {
    await sleep(Math.max(this.opts.limits.bindFailureDelayMs, penalty), undefined, { signal: this.gone.signal }).catch(() => undefined);
  }

  // ---- extended operations ----

  private extended(req: LdapRequest, op: LdapOperation & { type: 'extended' }): void {
    const started = performance.now();
    const reply = (code: number, message = '', value?: Buffer, name?: string): void => {
      const fields = { resultCode: code, diagnosticMessage: message, ...(name ? { responseName: name } : {}), ...(value ? { responseValue: value } : {}) };
      this.conn.write(encodeMessage(extendedResponse(req.messageId, fields)));
      this.logOp(req, { result: resultName(code), name: op.name }, started);
    };
    if (op.name === LDAP_OID.whoAmI) {
      reply(LdapResultCode.success, '', Buffer.from(this.bindDn ? `dn:${this.bindDn}` : ''));
      return;
    }
    if (op.name !== LDAP_OID.startTls) {
      reply(LdapResultCode.protocolError, `extended operation ${op.name} is not supported`);
      return;
    }
    if (this.conn.isSecure) return reply(LdapResultCode.operationsError, 'TLS is already active', undefined, LDAP_OID.startTls);
    if (!this.opts.startTls) return reply(LdapResultCode.protocolError, 'StartTLS is not available here', undefined, LDAP_OID.startTls);
    if (this.ops.size > 0) return reply(LdapResultCode.operationsError, 'operations are outstanding; StartTLS must wait for them', undefined, LDAP_OID.startTls);
    // Bytes pipelined behind the StartTLS request were sent in plaintext and must not be read
    // as if they came through TLS (the STARTTLS injection of CVE-2011-0411).
    if (this.conn.pendingInput > 0) {
      this.logOp(req, { result: 'protocolError', name: op.name, reason: 'data after StartTLS' }, started);
      return this.disconnect(LdapResultCode.protocolError, 'data after the StartTLS request');
    }
    const ok = encodeMessage(extendedResponse(req.messageId, { resultCode: LdapResultCode.success, responseName: LDAP_OID.startTls }));
    this.logOp(req, { result: 'success', name: op.name }, started);
    void this.conn.startTls(this.opts.startTls, ok).then((failed) => {
      if (failed !== undefined) this.opts.tlsFailed(this.conn.remoteAddress, failed);
      else this.opts.log.debug({ conn: this.opts.id }, 'ldap starttls done');
    });
  }

  // ---- helpers ----

  /** Notice of Disconnection (RFC 4511 4.4.1) and close; outstanding operations are dropped. */
  private disconnect(code: number, message: string): void {
    for (const o of this.ops.values()) o.abort.abort(new AbortReason('closed'));
    this.conn.end(encodeMessage(noticeOfDisconnection(code, message)));
  }

  private count(op: string, result: string): void {
    this.opts.metrics?.inc('postamt_ldap_operations_total', { listener: this.opts.listener, op, result });
  }

  private logOp(req: LdapRequest, outcome: OpOutcome, started: number): void {
    this.count(req.op.type, outcome.result);
    const log = this.opts.log;
    if (!log.isLevelEnabled('info')) return;
    log.info({ conn: this.opts.id, msgid: req.messageId, op: req.op.type, ...outcome, ms: Math.round((performance.now() - started) * 10) / 10 }, 'ldap op');
  }
}
