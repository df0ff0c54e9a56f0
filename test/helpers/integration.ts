import { startService, type RunningService } from '../../src/roles/index.js';
import { silentLogger, type Logger } from '../../src/core/index.js';
import { cheapPasswordHash, tempDir, testConfig } from './env.js';

/** The seed's endpoint credentials: `Basic bWFpbHN0b3JlQGV4YW1wbGUudGVzdDpQYXNzdzByZA==`. */
export const SEED_USER = 'mailstore@example.test';
export const SEED_PASSWORD = 'Passw0rd';
export const SEED_AUTHORIZATION = 'Basic bWFpbHN0b3JlQGV4YW1wbGUudGVzdDpQYXNzdzByZA==';

export interface IntegrationService {
  svc: RunningService;
  url: string;
  port: number;
  dir: string;
  close(): Promise<void>;
}

/** A real service role with the endpoint enabled (seed credentials), domain example.test. */
export async function startIntegrationService(integration: Record<string, unknown> = {}, raw: Record<string, unknown> = {}, logger: Logger = silentLogger()): Promise<IntegrationService> {
  const dir = tempDir();
  const config = testConfig(dir.path, {
    ...raw,
    integration: { enabled: true, credentials: { user: SEED_USER, password: SEED_PASSWORD }, ...integration },
  });
  const svc = await startService(config, logger);
  if (!(await svc.accounts.listDomains()).some((d) => d.name === 'example.test')) await svc.accounts.addDomain('example.test');
  return {
    svc,
    url: svc.integration.url!,
    port: svc.endpoints.http!.port,
    dir: dir.path,
    close: async () => {
      await svc.close();
      dir.cleanup();
    },
  };
}

/** Adds accounts with a cheap hash of `password` (see cheapPasswordHash): tests here log in often. */
export async function addCheapAccounts(svc: RunningService, accounts: Array<{ address: string; displayName?: string }>, password = 'Passw0rd!'): Promise<void> {
  for (const a of accounts) await svc.accounts.add({ address: a.address, password: 'placeholder-password', displayName: a.displayName ?? '' });
  const hash = await cheapPasswordHash(password);
  await svc.store.db
    .updateTable('accounts')
    .set({ password_hash: hash })
    .where(
      'address',
      'in',
      accounts.map((a) => a.address),
    )
    .execute();
}

/** POSTs a form with the seed's credentials (or the given Authorization) using fetch. */
export async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string | null; text: string; headers: Headers }> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { authorization: SEED_AUTHORIZATION, 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
  return { status: r.status, type: r.headers.get('content-type'), text: await r.text(), headers: r.headers };
}
