import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { problemErrorHandler } from './problem.js';
import { parseBody } from './body.js';

/** What the accounts admin routes need: domains and accounts as operators see them (service/accounts-admin.ts fits). */
export interface AccountsAdminView {
  listDomains(): Promise<ReadonlyArray<{ name: string; createdAt: string }>>;
  list(domain?: string, search?: string): Promise<readonly object[]>;
  addDomain(name: string): Promise<object>;
  add(input: { address: string; password: string; displayName?: string; telematikId?: string | null; quotaBytes?: number }): Promise<object>;
  kimView(address: string): Promise<object>;
  change(address: string, change: { displayName?: string; quotaBytes?: number; password?: string; disabled?: boolean; dataTimeToLive?: number | null; maxMailSize?: number | null }): Promise<object>;
}

const displayName = z.string().max(200);
const quotaBytes = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const password = z.string().min(8).max(1024);
// KIM's bounds (AccountLimit.yaml 1.1.4); null resets to the configured default.
const dataTimeToLive = z.number().int().min(10).max(365).nullable();
const maxMailSize = z.number().int().min(734_003_200).max(Number.MAX_SAFE_INTEGER).nullable();

const newDomain = z.object({ name: z.string().min(1).max(253) }).strict();
const newAccount = z
  .object({
    address: z.string().min(3).max(320),
    password,
    displayName: displayName.optional(),
    telematikId: z.string().min(1).max(128).nullable().optional(),
    quotaBytes: quotaBytes.optional(),
  })
  .strict();
const accountChange = z
  .object({
    displayName: displayName.optional(),
    quotaBytes: quotaBytes.optional(),
    password: password.optional(),
    disabled: z.boolean().optional(),
    dataTimeToLive: dataTimeToLive.optional(),
    maxMailSize: maxMailSize.optional(),
  })
  .strict()
  .refine((c) => Object.keys(c).length > 0, 'name at least one of displayName, quotaBytes, password, disabled, dataTimeToLive, maxMailSize');

/**
 * Domains and accounts under /api (bearer token or console session, registerAdminApi):
 *   GET   /domains                       local domains
 *   POST  /domains                       add {name}
 *   GET   /accounts?domain=&q=           accounts, q: part of the address or display name
 *   POST  /accounts                      add {address, password, displayName?, telematikId?, quotaBytes?}
 *   GET   /accounts/:address/kim         KIM registration (state, Telematik-ID, last change) and limits
 *   PATCH /accounts/:address             change {displayName?, quotaBytes?, password?, disabled?,
 *                                        dataTimeToLive? (days, 10..365), maxMailSize? (bytes, ≥ 734003200); null: default}
 * Passwords are never returned; bad bodies are 400 problem JSON naming the field.
 */
export function accountsAdminRoutes(accounts: AccountsAdminView): FastifyPluginAsync {
  return async (api) => {
    api.setErrorHandler(problemErrorHandler());
    api.get('/domains', () => accounts.listDomains());
    api.post('/domains', async (req, reply) => reply.status(201).send(await accounts.addDomain(parseBody(newDomain, req.body).name)));
    api.get<{ Querystring: { domain?: string; q?: string } }>('/accounts', (req) => accounts.list(req.query.domain || undefined, req.query.q || undefined));
    api.post('/accounts', async (req, reply) => reply.status(201).send(await accounts.add(parseBody(newAccount, req.body))));
    api.get<{ Params: { address: string } }>('/accounts/:address/kim', (req) => accounts.kimView(req.params.address));
    api.patch<{ Params: { address: string } }>('/accounts/:address', async (req) => accounts.change(req.params.address, parseBody(accountChange, req.body)));
  };
}
