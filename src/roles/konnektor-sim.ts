import { readFileSync } from 'node:fs';
import type { Config } from '../config/index.js';
import { inDataDir } from '../config/index.js';
import { postamtVersion, useTlsProfile, type Logger } from '../core/index.js';
import { cardLoaderFromFiles, loadTlsMaterial, readCertificateFile, SoftwareKonnektor, type TlsMaterial } from '../crypto/index.js';
import { KonnektorSimulator } from '../konnektor-sim/index.js';
import type { Endpoint } from './endpoints.js';

export interface KonnektorSimParts {
  /** Default: the platform's TLS material (config.tls, else the self-signed pair of the data directory). */
  tls?: TlsMaterial;
}

export interface RunningKonnektorSim {
  /** `konnektor-sim`: the HTTPS listener. */
  endpoints: Record<string, Endpoint>;
  /** https://host:port/connector.sds, what a SOAP client is configured with. */
  sdsUrl: string;
  /** The running simulator with its test API (reinsertCard, setPinStatus, setDelay, failNext, calls). */
  simulator: KonnektorSimulator;
  close(graceMs?: number): Promise<void>;
}

/**
 * The `konnektor-sim` role: the Konnektor simulator from config.konnektorSim — its Mandanten and
 * cards (files as konnektor.mandanten), trust anchors, service versions, limits and client
 * authentication — on one HTTPS listener with the platform's TLS material.
 */
export async function startKonnektorSim(config: Config, logger: Logger, parts: KonnektorSimParts = {}): Promise<RunningKonnektorSim> {
  const sc = config.konnektorSim;
  useTlsProfile(config.tls);
  const tls = parts.tls ?? (await loadTlsMaterial(config, ['localhost', '127.0.0.1', '::1', config.service.hostname]));
  const trustAnchors = sc.trustAnchors.flatMap((p) => readCertificateFile(inDataDir(config, p)));
  const mandanten = sc.mandanten.map((m) => ({
    id: m.id,
    clientSystems: m.clientSystems,
    workplaces: m.workplaces,
    smcb: m.smcb && cardLoaderFromFiles(m.smcb, config.dataDir),
    hba: Object.fromEntries(Object.entries(m.hba).map(([userId, card]) => [userId, cardLoaderFromFiles(card, config.dataDir)])),
  }));
  const konnektor = new SoftwareKonnektor({
    mandanten,
    trustAnchors,
    serviceVersions: { signatureService: sc.serviceVersions.signatureService, encryptionService: sc.serviceVersions.encryptionService },
  });
  const a = sc.clientAuth;
  const simulator = new KonnektorSimulator({
    host: sc.listen.host,
    port: sc.listen.port,
    tls: { cert: tls.cert, key: tls.key, ...(tls.ecc ? { ecc: { cert: tls.ecc.cert, key: tls.ecc.key } } : {}) },
    konnektor,
    mandanten: sc.mandanten,
    trustAnchors,
    serviceVersions: {
      EventService: sc.serviceVersions.eventService,
      CardService: sc.serviceVersions.cardService,
      CertificateService: sc.serviceVersions.certificateService,
      SignatureService: sc.serviceVersions.signatureService,
      EncryptionService: sc.serviceVersions.encryptionService,
    },
    delayMs: sc.delayMs,
    maxRequestBytes: sc.maxRequestBytes,
    requestTimeoutMs: sc.requestTimeoutMs,
    clientAuth: a.type === 'certificate' ? { type: 'certificate', caPem: readFileSync(inDataDir(config, a.ca), 'utf8') } : a,
    productVersion: postamtVersion(),
    logger: logger.child({ role: 'konnektor-sim' }),
  });
  let bound;
  try {
    bound = await simulator.start();
  } catch (err) {
    await konnektor.close();
    throw err;
  }
  logger.info({ sds: simulator.sdsUrl }, 'Konnektor simulator listening');
  return {
    endpoints: { 'konnektor-sim': { host: bound.host, port: bound.port, tls: 'implicit' } },
    sdsUrl: simulator.sdsUrl,
    simulator,
    close: async () => {
      await simulator.close();
      await konnektor.close();
    },
  };
}
