import type { FastifyPluginAsync } from 'fastify';

/** What the accounts admin routes need: a read view of domains and accounts. */
export interface AccountsAdminView {
  listDomains(): Promise<Array<{ name: string; created_at: number }>>;
  list(domain?: string): Promise<Array<{
    address: string;
    displayName: string;
    telematikId: string | null;
    quotaBytes: number;
    usedBytes: number;
    disabled: boolean;
    createdAt: number;
  }>>;
}

/**
 * GET /api/domains and GET /api/accounts[?domain=…]: what an operator's tooling needs to see
 * who is on the service. Changes go through the CLI, which asks for passwords on stdin.
 */
export function accountsAdminRoutes(accounts: AccountsAdminView): FastifyPluginAsync {
  return async (api) => {
    api.get('/domains', async () => {
      const rows = await accounts.listDomains();
      return rows.map((r) => ({ name: r.name, createdAt: new Date(r.created_at).toISOString() }));
    });
    api.get<{ Querystring: { domain?: string } }>('/accounts', async (req) => {
      const rows = await accounts.list(req.query.domain);
      return rows.map((a) => ({
        address: a.address,
        displayName: a.displayName,
        telematikId: a.telematikId,
        quotaBytes: a.quotaBytes,
        usedBytes: a.usedBytes,
        disabled: a.disabled,
        createdAt: new Date(a.createdAt).toISOString(),
      }));
    });
  };
}
