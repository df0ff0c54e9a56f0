import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { UsageError, type Logger } from '../core/index.js';
import { generatePassword, type Accounts } from '../service/index.js';
import { startService, type RunningService } from './service.js';
import { addListeners, writeEndpointsFile, type EndpointsFile } from './endpoints.js';
import { startDirectoryFor, type RunningDirectory } from './directory.js';
import { startClientModule, type RunningClientModule } from './clientmodule.js';
import { startKonnektorSim, type RunningKonnektorSim } from './konnektor-sim.js';
import { startPraxis, type RunningPraxis } from './praxis.js';
import { createTestPki, type PracticeSpec } from '../crypto/index.js';
import { certificatesFrom, publishAddress, type Directory } from '../directory/index.js';

export const DEMO_DOMAIN = 'praxis.kim.test';
const DEMO_ACCOUNTS = [
  { local: 'praxis-a', displayName: 'Praxis A (Demo)', telematikId: '1-20014711' },
  { local: 'praxis-b', displayName: 'Praxis B (Demo)', telematikId: '1-20014712' },
];

/**
 * The demo practices as the test PKI issues them certificates: each SMC-B with RSA-2048 and
 * brainpoolP256r1 keys side by side, as the TI's cards of generation 2.1 carry them.
 */
export const DEMO_PRACTICES: readonly PracticeSpec[] = DEMO_ACCOUNTS.map((a) => ({ id: a.local, name: a.displayName, telematikId: a.telematikId, email: `${a.local}@${DEMO_DOMAIN}`, keys: 'both' as const }));

/** The ENC certificate files a practice directory of the test PKI may hold: RSA, brainpoolP256r1. */
const ENC_CERT_FILES = ['enc.pem', 'enc-ecc.pem'];

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
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(credPath, JSON.stringify(creds, null, 2) + '\n', { mode: 0o600 });
    logger.info({ domain: DEMO_DOMAIN, accounts: creds.accounts.length }, 'seeded demo domain and accounts');
    return creds;
  }
  if (existsSync(credPath)) return JSON.parse(readFileSync(credPath, 'utf8')) as DemoCredentials;
  return { accounts: [] };
}

/**
 * Makes sure the demo practices have their TEST-ONLY PKI (dataDir/pki, as `postamt pki init`
 * writes it) and that each practice's ENC certificates (RSA and ECC, whichever its directory
 * holds) are published in its directory entry, where a client module looks recipients'
 * encryption certificates up. OSIG certificates are not published: the VZD carries encryption
 * certificates; signatures carry their own. A PKI made beforehand with `postamt pki init
 * --practice "…;ecc"` gives a practice ECC certificates only; the demo publishes what it finds.
 */
export async function publishDemoCertificates(directory: Directory, dataDir: string, logger: Logger): Promise<string> {
  const pkiDir = join(dataDir, 'pki');
  if (!existsSync(join(pkiDir, 'ca.pem'))) {
    await createTestPki({ dir: pkiDir, practices: [...DEMO_PRACTICES], tlsNames: ['localhost', '127.0.0.1', '::1'] });
    logger.info({ dir: pkiDir }, 'created the TEST-ONLY demo PKI');
  }
  for (const p of DEMO_PRACTICES) {
    const encPaths = ENC_CERT_FILES.map((f) => join(pkiDir, p.id, f)).filter((f) => existsSync(f));
    if (encPaths.length === 0) continue;
    // Data directories seeded before the directory existed have accounts but no entries yet.
    if (!(await directory.find(p.telematikId))) await publishAddress(directory, p.telematikId, p.email, p.name);
    for (const encPath of encPaths) for (const der of certificatesFrom(readFileSync(encPath))) await directory.addCertificate(p.telematikId, der);
  }
  return pkiDir;
}

export interface RunningDemo {
  service: RunningService;
  /** The reference primary system's back end (praxis.enabled). */
  praxis?: RunningPraxis;
  endpointsFile: EndpointsFile;
  endpointsPath: string;
  close(): Promise<void>;
}

/** The Mandant, client system and workplace a demo practice's primary system uses. */
export const DEMO_CLIENT_SYSTEM = 'PVS';
export const DEMO_WORKPLACE = '1';

export interface DemoPractice {
  address: string;
  password: string;
  mandantId: string;
  /** What the PS configures as SMTP user name at the client module (KIM user-name rule). */
  smtpUser: string;
  pop3User: string;
}

/** The demo practices as Mandanten (client system PVS, any workplace) with their test SMC-Bs. */
function demoMandanten(): Config['konnektor']['mandanten'] {
  return DEMO_PRACTICES.map((p) => ({ id: p.id, clientSystems: [DEMO_CLIENT_SYSTEM], workplaces: ['*'], smcb: { dir: `pki/${p.id}` }, hba: {} }));
}

/**
 * The demo's Konnektor: the Konnektor simulator over SOAP, holding one Mandant per demo practice
 * with its test SMC-B (RSA and ECC keys) — unless the configuration names `konnektor.mandanten`
 * itself, then that software Konnektor, or `konnektor.type: soap`, then that Konnektor; each
 * practice's account may use its own Mandant (client system PVS, workplace 1), unless the
 * configuration names accounts itself; the
 * demo's own service is among the providers (its practices' user names point at it); and the
 * client module looks recipients up in the demo's own directory.
 */
function demoClientModuleConfig(config: Config, ldapPort: number, service: RunningService, simulator: { sim: RunningKonnektorSim; auth: { user: string; password: string } } | undefined): Config {
  const konnektor: Config['konnektor'] = simulator
    ? // The real path: SOAP over HTTPS to the simulator, which presents the platform's certificate.
      {
        ...config.konnektor,
        type: 'soap',
        soap: { url: simulator.sim.sdsUrl, tls: { ca: service.tls.certPath }, basicAuth: simulator.auth, timeoutMs: 30_000, maxResponseBytes: 64 * 1024 * 1024, cardCacheMs: 60_000, perMandant: [] },
      }
    : config.konnektor;
  const accounts = config.clientModule.accounts.length > 0 ? config.clientModule.accounts : DEMO_PRACTICES.map((p) => ({ address: p.email, contexts: [{ mandant: p.id, clientSystems: [DEMO_CLIENT_SYSTEM], workplaces: [DEMO_WORKPLACE] }] }));
  const own = [service.endpoints['smtp-submission'], service.endpoints.pop3s].flatMap((e) => (e ? [{ host: e.host, ports: [e.port] }] : []));
  const providers = [...config.clientModule.providers, ...own];
  const directory = { ...config.clientModule.directory, url: `ldap://127.0.0.1:${ldapPort}` };
  // getLimits at the demo's own service (its HTTP listener: plain on loopback, https elsewhere), unless configured.
  const http = service.endpoints.http;
  const accountLimit =
    config.clientModule.accountLimit.url || !http || !config.service.kim.enabled
      ? config.clientModule.accountLimit
      : { ...config.clientModule.accountLimit, url: `${http.tls === 'none' ? 'http' : 'https'}://${http.host.includes(':') ? `[${http.host}]` : http.host}:${http.port}/AccountLimit/v1.1` };
  return { ...config, konnektor, clientModule: { ...config.clientModule, accounts, providers, directory, accountLimit } };
}

/**
 * What `npm start` runs: the service, the directory and the client module on loopback, with a
 * TEST PKI, two practices (separate Mandanten, accounts, directory entries with their ENC
 * certificates), and the user names their primary systems would configure.
 */
export async function startDemo(config: Config, logger: Logger): Promise<RunningDemo> {
  // The demo serves the Application Integration endpoint, so an archive can be pointed at it at once.
  let cmConfig: Config | undefined;
  // The Account Manager trusts the demo's TEST-ONLY CA (its practices' C.HCI.AUT), unless
  // configured, and createCert issues the client modules' TLS certificates from it.
  const am = config.service.kim.accountManager;
  const cc = am.clientCertificates.caCert === undefined ? { ...am.clientCertificates, caCert: 'pki/ca.pem', caKey: 'pki/ca.key' } : am.clientCertificates;
  const kim = { ...config.service.kim, accountManager: { ...am, trustAnchors: am.trustAnchors.length ? am.trustAnchors : ['pki/ca.pem'], clientCertificates: cc } };
  const service = await startService({ ...config, service: { ...config.service, kim }, integration: { ...config.integration, enabled: true } }, logger, undefined, { konnektorConfig: () => cmConfig ?? config, clientModuleOutcomes: () => cm?.outcomes });
  let ldap: RunningDirectory | undefined;
  let sim: RunningKonnektorSim | undefined;
  let simAuth: { user: string; password: string } | undefined;
  let cm: RunningClientModule | undefined;
  let px: RunningPraxis | undefined;
  try {
    const creds = await seedDemo(service.accounts, config.dataDir, logger);
    await publishDemoCertificates(service.directory, config.dataDir, logger);
    ldap = await startDirectoryFor(service, config, logger);
    const ldapPort = ldap.endpoints.ldap?.port;
    if (ldapPort === undefined) throw new UsageError('the demo needs the LDAP listener (directory.ldap.starttls.enabled)');
    // Unless the configuration brings its own Konnektor, the demo runs the simulator and the client
    // module talks SOAP to it, as it would to a practice's Konnektor.
    if (config.konnektor.type === 'software' && config.konnektor.mandanten.length === 0) {
      const mandanten = config.konnektorSim.mandanten.length ? config.konnektorSim.mandanten : demoMandanten();
      const trustAnchors = config.konnektorSim.trustAnchors.length ? config.konnektorSim.trustAnchors : ['pki/ca.pem'];
      // The client system authenticates itself to the simulator (HTTP Basic, a password for this run), as to a real Konnektor (KOM-LE-A_2071/2072).
      simAuth = { user: 'postamt-clientmodul', password: randomBytes(18).toString('base64url') };
      sim = await startKonnektorSim({ ...config, konnektorSim: { ...config.konnektorSim, mandanten, trustAnchors, clientAuth: { type: 'basic', ...simAuth } } }, logger, { tls: service.tls });
    }
    cmConfig = demoClientModuleConfig(config, ldapPort, service, sim && simAuth ? { sim, auth: simAuth } : undefined);
    cm = await startClientModule(cmConfig, logger, { tls: service.tls, metrics: service.metrics });
    // One process: the directory's, simulator's and client module's listeners are the mail-in agents' no-go too.
    addListeners(service.ownListeners, { ...ldap.endpoints, ...(sim?.endpoints ?? {}), ...cm.endpoints });
    const submission = service.endpoints['smtp-submission'];
    const pop3s = service.endpoints.pop3s;
    const practices: DemoPractice[] = [];
    for (const a of creds.accounts) {
      const p = DEMO_PRACTICES.find((x) => x.email === a.address);
      if (!p || !submission || !pop3s) continue;
      const tail = `#${p.id}#${DEMO_CLIENT_SYSTEM}#${DEMO_WORKPLACE}`;
      practices.push({
        address: a.address,
        password: a.password,
        mandantId: p.id,
        smtpUser: `${a.address}#${submission.host}:${submission.port}${tail}`,
        pop3User: `${a.address}#${pop3s.host}:${pop3s.port}${tail}`,
      });
    }
    // The Praxis-Postfach: a primary system like any other, through the client module's implicit-TLS
    // endpoints and the directory's LDAP, signing in the demo's practices with their KIM user names.
    if (config.praxis.enabled) px = await startPraxis(demoPraxisConfig(config, ldapPort, cm, practices, submission, pop3s), logger, { ca: [service.tls.cert, ...(service.tls.ecc ? [service.tls.ecc.cert] : [])], tls: service.tls });
    const endpointsFile: EndpointsFile = {
      endpoints: { ...service.endpoints, ...ldap.endpoints, ...(sim?.endpoints ?? {}), ...cm.endpoints, ...(px?.endpoints ?? {}) },
      accounts: creds.accounts,
      practices,
      ...(px ? { praxis: { url: px.url } } : {}),
      adminToken: service.adminToken,
      ...(service.integration.url ? { integration: { url: service.integration.url, ...service.integration.credentials } } : {}),
      tls: { fingerprint: service.tls.fingerprint, certificate: service.tls.certPath, origin: service.tls.origin },
    };
    const endpointsPath = writeEndpointsFile(config.dataDir, endpointsFile);
    const directoryRole = ldap;
    const clientModule = cm;
    const simulator = sim;
    const praxisRole = px;
    return {
      service,
      ...(praxisRole ? { praxis: praxisRole } : {}),
      endpointsFile,
      endpointsPath,
      close: async () => {
        await praxisRole?.close();
        await clientModule.close(config.service.shutdownGraceMs);
        await simulator?.close(config.service.shutdownGraceMs);
        await directoryRole.close(config.service.shutdownGraceMs);
        await service.close();
      },
    };
  } catch (err) {
    await px?.close();
    await cm?.close(0);
    await sim?.close(0);
    await ldap?.close();
    await service.close();
    throw err;
  }
}

/**
 * The Praxis-Postfach's configuration in the demo: the client module's SMTPS and POP3S, the demo's
 * LDAP, and the demo practices (unless the configuration names practices or endpoints itself).
 */
function demoPraxisConfig(config: Config, ldapPort: number, cm: RunningClientModule, practices: DemoPractice[], submission: { host: string; port: number } | undefined, pop3s: { host: string; port: number } | undefined): Config {
  const smtps = cm.endpoints['cm-smtps'] ?? cm.endpoints['cm-smtp'];
  const pop3 = cm.endpoints['cm-pop3s'] ?? cm.endpoints['cm-pop3'];
  if (!smtps || !pop3) throw new UsageError('the Praxis-Postfach needs the client module\'s SMTP and POP3 listeners (or praxis.enabled: false)');
  const own = practices.map((p) => ({ address: p.address, smtpMta: `${submission!.host}:${submission!.port}`, pop3Mta: `${pop3s!.host}:${pop3s!.port}`, mandant: p.mandantId, clientSystem: DEMO_CLIENT_SYSTEM, workplace: DEMO_WORKPLACE }));
  const pc = config.praxis;
  return {
    ...config,
    praxis: {
      ...pc,
      clientModule: { ...pc.clientModule, smtp: { host: smtps.host, port: smtps.port, tls: smtps.tls }, pop3: { host: pop3.host, port: pop3.port, tls: pop3.tls } },
      directory: { ...pc.directory, url: `ldap://127.0.0.1:${ldapPort}` },
      practices: pc.practices.length ? pc.practices : own,
    },
  };
}
