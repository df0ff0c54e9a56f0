import { LDAP_OID, ldapMessage, encodeMessages, formatFilter, searchResultDone, searchResultEntry, decodePagedResults, encodePagedResults, compareResponse, LdapDecodeError } from '../wire/ldap/index.js';
import type { DerNode } from '../wire/ber/index.js';
import type { LdapControl, LdapOperation } from '../wire/ldap/index.js';
import { LdapResultCode, type LdapBackend, type LdapEntry } from './backend.js';
import type { LdapLimits } from './options.js';
import type { PagedSearches } from './paging.js';
import { resultName, type OpOutcome } from './result-codes.js';
import { rootDseAttributes, rootDseMatches, type RootDseInfo } from './root-dse.js';

type SearchOp = LdapOperation & { type: 'search' };
type CompareOp = LdapOperation & { type: 'compare' };

/** What a search needs from its session. */
export interface SearchContext {
  backend: LdapBackend;
  limits: LdapLimits;
  paging: PagedSearches;
  rootDse: RootDseInfo;
  bound: boolean;
  /** Writes bytes; false when the caller should await drain() before writing more. */
  write(bytes: Buffer): boolean;
  drain(): Promise<void>;
}

/** Results are written in batches of about this size: one write per typical search, bounded memory for big ones. */
const BATCH_BYTES = 16 * 1024;

export class AbortReason {
  constructor(readonly why: 'abandon' | 'time' | 'closed' | 'bind') {}
}

/**
 * One SearchRequest: the root DSE, or the backend's entries under the effective size limit
 * (the smaller of the client's and ours), the time limit and, with the paged-results control,
 * one page. The size limit covers a paged search as a whole: paging does not lift it.
 */
export async function runSearch(ctx: SearchContext, messageId: number, op: SearchOp, controls: LdapControl[], ac: AbortController): Promise<OpOutcome> {
  const detail = { base: op.baseObject, scope: op.scope, filter: formatFilter(op.filter), entries: 0 };
  // Entries not yet written; SearchResultDone goes out with them, so a small search is one socket write.
  let batch: DerNode[] = [];
  let batchBytes = 0;
  const done = (code: number, message = '', resultControls?: LdapControl[]): OpOutcome => {
    batch.push(searchResultDone(messageId, { resultCode: code, diagnosticMessage: message }, resultControls));
    ctx.write(encodeMessages(batch));
    batch = [];
    return { result: resultName(code), ...detail };
  };

  if (op.baseObject === '' && op.scope === 'base') {
    const attrs = rootDseAttributes(ctx.rootDse, op.attributes, op.typesOnly);
    const all = rootDseAttributes(ctx.rootDse, ['*', '+'], false);
    if (rootDseMatches(op.filter, all)) {
      batch.push(searchResultEntry(messageId, '', attrs));
      detail.entries = 1;
    }
    return done(LdapResultCode.success);
  }
  if (ctx.limits.requireBind && !ctx.bound) return done(LdapResultCode.insufficientAccessRights, 'bind first: this directory does not allow anonymous searches');

  const pagedControl = controls.find((c) => c.type === LDAP_OID.pagedResults);
  let paged: { size: number; cookie: Buffer } | undefined;
  if (pagedControl) {
    try {
      paged = decodePagedResults(pagedControl);
    } catch (err) {
      if (err instanceof LdapDecodeError) return done(LdapResultCode.protocolError, `paged results control: ${err.message}`);
      throw err;
    }
  }

  const sizeBudget = op.sizeLimit > 0 ? Math.min(op.sizeLimit, ctx.limits.sizeLimit) : ctx.limits.sizeLimit;
  const timeMs = op.timeLimit > 0 ? Math.min(op.timeLimit * 1000, ctx.limits.timeLimitMs) : ctx.limits.timeLimitMs;
  let returnedBefore = 0;
  let after: string | undefined;
  let fingerprint = '';
  if (paged) {
    fingerprint = JSON.stringify([op.baseObject.toLowerCase(), op.scope, detail.filter, op.attributes, op.typesOnly, sizeBudget]);
    if (paged.cookie.length > 0) {
      const state = ctx.paging.take(paged.cookie);
      if (!state || state.fingerprint !== fingerprint) return done(LdapResultCode.unwillingToPerform, 'paged results cookie unknown, expired or for another search');
      returnedBefore = state.returned;
      after = state.after;
    }
    // Size 0 ends a paged search (RFC 2696 3); without a cookie it just returns no entries.
    if (paged.size === 0) return done(LdapResultCode.success, '', [encodePagedResults({ size: 0, cookie: Buffer.alloc(0) })]);
  }
  const budget = sizeBudget - returnedBefore;
  const pageSize = paged ? paged.size : Infinity;
  const want = Math.min(pageSize, budget);

  const timer = setTimeout(() => ac.abort(new AbortReason('time')), timeMs);
  let count = 0;
  let more = false;
  let last: LdapEntry | undefined;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const ok = ctx.write(encodeMessages(batch));
    batch = [];
    batchBytes = 0;
    // A slow reader: stop pulling entries until the socket drains (no unbounded buffering).
    if (!ok) await ctx.drain();
  };
  try {
    const entries = ctx.backend.search({
      baseDn: op.baseObject,
      scope: op.scope,
      filter: op.filter,
      attributes: op.attributes,
      typesOnly: op.typesOnly,
      limit: want + 1,
      ...(after !== undefined ? { after } : {}),
      signal: ac.signal,
    });
    for await (const entry of entries) {
      if (ac.signal.aborted) break;
      if (count === want) {
        more = true;
        break;
      }
      count++;
      last = entry;
      const node = entry.encoded ? ldapMessage(messageId, entry.encoded) : searchResultEntry(messageId, entry.dn, entry.attributes);
      batch.push(node);
      batchBytes += node.contentLength;
      if (batchBytes >= BATCH_BYTES) await flush();
    }
  } catch (err) {
    if (!ac.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
  }
  detail.entries = count;
  const reason = ac.signal.aborted ? (ac.signal.reason as AbortReason | undefined)?.why ?? 'closed' : undefined;
  if (reason === 'abandon' || reason === 'closed' || reason === 'bind') return { result: 'abandoned', ...detail };
  if (reason === 'time') return done(LdapResultCode.timeLimitExceeded, `time limit of ${timeMs} ms exceeded`);
  if (more && budget <= pageSize) {
    return done(LdapResultCode.sizeLimitExceeded, `size limit of ${sizeBudget} entries exceeded`, paged ? [encodePagedResults({ size: 0, cookie: Buffer.alloc(0) })] : undefined);
  }
  if (!paged) return done(LdapResultCode.success);
  const cookie = more && last ? ctx.paging.save({ fingerprint, after: last.resumeKey, returned: returnedBefore + count }) : Buffer.alloc(0);
  return done(LdapResultCode.success, '', [encodePagedResults({ size: 0, cookie })]);
}

/**
 * The synchronous path of runSearch: when the backend can answer from memory (searchNow) and
 * the search needs nothing that waits (no paging control, not the root DSE), the entries and
 * SearchResultDone leave in one write before this returns, with the same size limit and the
 * same result as runSearch. No timer, no abort signal: nothing can run in between, so neither
 * an abandon nor the time limit can intervene. Returns undefined when runSearch must run.
 */
export function searchNow(ctx: SearchContext, messageId: number, op: SearchOp, controls: LdapControl[]): OpOutcome | undefined {
  const backend = ctx.backend;
  if (backend.searchNow === undefined) return undefined;
  if (op.baseObject === '' && op.scope === 'base') return undefined;
  if (ctx.limits.requireBind && !ctx.bound) return undefined;
  for (const c of controls) if (c.type === LDAP_OID.pagedResults) return undefined;
  const want = op.sizeLimit > 0 ? Math.min(op.sizeLimit, ctx.limits.sizeLimit) : ctx.limits.sizeLimit;
  const entries = backend.searchNow({ baseDn: op.baseObject, scope: op.scope, filter: op.filter, attributes: op.attributes, typesOnly: op.typesOnly, limit: want + 1 });
  if (entries === undefined) return undefined;
  const more = entries.length > want;
  const n = more ? want : entries.length;
  const messages: DerNode[] = new Array(n + 1);
  for (let i = 0; i < n; i++) {
    const e = entries[i]!;
    messages[i] = e.encoded ? ldapMessage(messageId, e.encoded) : searchResultEntry(messageId, e.dn, e.attributes);
  }
  const code = more ? LdapResultCode.sizeLimitExceeded : LdapResultCode.success;
  messages[n] = searchResultDone(messageId, { resultCode: code, diagnosticMessage: more ? `size limit of ${want} entries exceeded` : '' });
  ctx.write(encodeMessages(messages));
  return { result: resultName(code), base: op.baseObject, scope: op.scope, filter: formatFilter(op.filter), entries: n };
}

/** Compare as a base-scope search for an equality filter: compareTrue when the entry matches. */
export async function runCompare(ctx: SearchContext, messageId: number, op: CompareOp, ac: AbortController): Promise<OpOutcome> {
  const detail = { dn: op.entry, attribute: op.attribute };
  if (ctx.limits.requireBind && !ctx.bound) {
    ctx.write(encodeMessages([compareResponse(messageId, { resultCode: LdapResultCode.insufficientAccessRights, diagnosticMessage: 'bind first' })]));
    return { result: 'insufficientAccessRights', ...detail };
  }
  let found = false;
  for await (const _ of ctx.backend.search({
    baseDn: op.entry,
    scope: 'base',
    filter: { type: 'equality', attribute: op.attribute, value: op.value },
    attributes: ['1.1'],
    typesOnly: false,
    limit: 1,
    signal: ac.signal,
  })) {
    found = true;
    break;
  }
  if (ac.signal.aborted) return { result: 'abandoned', ...detail };
  const code = found ? LdapResultCode.compareTrue : LdapResultCode.compareFalse;
  ctx.write(encodeMessages([compareResponse(messageId, { resultCode: code })]));
  return { result: resultName(code), ...detail };
}

