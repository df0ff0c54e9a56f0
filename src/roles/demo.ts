import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import type { Logger } from '../core/index.js';
import { generatePassword, type Accounts } from '../service/index.js';
import { startService, type RunningService } from './service.js';
import { writeEndpointsFile, type EndpointsFile } from './endpoints.js';

export const DEMO_DOMAIN = 'praxis.kim.test';
const DEMO_ACCOUNTS = [
  { local: 'praxis-a', displayName: 'Praxis A (Demo)', telematikId: '1-20014711' },
  { local: 'praxis-b', displayName: 'Praxis B (Demo)', telematikId: '1-20014712' },
];

/** The demo practices as the test PKI issues them certificates. */
export const DEMO_PRACTICES = DEMO_ACCOUNTS.map((a) => ({ id: a.local, name: a.displayName, telematikId: a.telematikId, email: `${a.local}@${DEMO_DOMAIN}` }));

interface DemoCredentials {
  accounts: Array<{ address: string; password: string }>;
}

/**
 * Seeds the demo domain and two accounts into an empty store, and remembers their generated
 * passwords in dataDir/demo-credentials.json (0600) so later starts can print them again.
 */
export async function seedDemo(accounts: Accounts, dataDir: string, logger: Logger): Promise<DemoCredentials> {
  const credPath = join(dataDir, 'demo-credentials.json');
  if ((await accounts.listDomains()).length === 0) {
    await accounts.addDomain(DEMO_DOMAIN);
    const creds: DemoCredentials = { accounts: [] };
    for (const a of DEMO_ACCOUNTS) {
      const password = generatePassword();
      const address = `${a.local}@${DEMO_DOMAIN}`;
      await accounts.add({ address, password, displayName: a.displayName, telematikId: a.telematikId });
      creds.accounts.push({ address, password });
    }
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(credPath, JSON.stringify(creds, null, 2) + '\n', { mode: 0o600 });
    logger.info({ domain: DEMO_DOMAIN, accounts: creds.accounts.length }, 'seeded demo domain and accounts');
    return creds;
  }
  if (existsSync(credPath)) return JSON.parse(readFileSync(credPath, 'utf8')) as DemoCredentials;
  return { accounts: [] };
}

export interface RunningDemo {
  service: RunningService;
  endpointsFile: EndpointsFile;
  endpointsPath: string;
  close(): Promise<void>;
}

/** What `npm start` runs: the service on loopback with demo data, endpoints written out. */
export async function startDemo(config: Config, logger: Logger): Promise<RunningDemo> {
  const service = await startService(config, logger);
  try {
    const creds = await seedDemo(service.accounts, config.dataDir, logger);
    const endpointsFile: EndpointsFile = {
      endpoints: service.endpoints,
      accounts: creds.accounts,
      tls: { fingerprint: service.tls.fingerprint, certificate: service.tls.certPath, origin: service.tls.origin },
    };
    const endpointsPath = writeEndpointsFile(config.dataDir, endpointsFile);
    return { service, endpointsFile, endpointsPath, close: () => service.close() };
  } catch (err) {
    await service.close();
    throw err;
  }
}
