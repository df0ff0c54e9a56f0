import type { FastifyPluginAsync } from 'fastify';

/** What the accounts admin routes need: domains and accounts as operators see them (service/account-view.ts). */
export interface AccountsAdminView {
  listDomains(): Promise<ReadonlyArray<{ name: string; createdAt: string }>>;
  list(domain?: string): Promise<readonly object[]>;
}

/**
 * GET /api/domains and GET /api/accounts[?domain=…]: what an operator's tooling needs to see
 * who is on the service. Changes go through the CLI, which asks for passwords on stdin.
 */
export function accountsAdminRoutes(accounts: AccountsAdminView): FastifyPluginAsync {
  return async (api) => {
    api.get('/domains', () => accounts.listDomains());
    api.get<{ Querystring: { domain?: string } }>('/accounts', (req) => accounts.list(req.query.domain));
  };
}
