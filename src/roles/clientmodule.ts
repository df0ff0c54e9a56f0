import { readFileSync } from 'node:fs';
import { loadClientModuleCertificates } from './clientmodule-certificates.js';
import type { Config } from '../config/index.js';
import { clientModuleWarnings, inDataDir } from '../config/index.js';
import { LoginThrottle, Metrics, isLoopbackHost, useTlsProfile, useTlsResumption, type Logger } from '../core/index.js';
import { createKonnektor, instrumentKonnektor, loadTlsMaterial, type Konnektor, type TlsMaterial } from '../crypto/index.js';
import { AccountLimitClient, ByteBudget, CertificateLookup, ClientModulePop3Backend, ClientModuleSmtpBackend, LoginPolicy, OutcomeRing, PresentedSizeCache } from '../clientmodule/index.js';
import { SmtpListener } from '../smtp/index.js';
import { Pop3Server } from '../pop3/index.js';
import type { Endpoint } from './endpoints.js';
import { RunningParts } from './running-parts.js';

export interface ClientModuleParts {
  /** Default: the platform's own TLS material (also what the upstream service presents in the demo). */
  tls?: TlsMaterial;
  /** Default: from config.konnektor. */
  konnektor?: Konnektor;
  metrics?: Metrics;
  throttle?: LoginThrottle;
  /** Default: a ring of clientModule.recentOutcomes entries. */
  outcomes?: OutcomeRing;
}

export interface RunningClientModule {
  endpoints: Record<string, Endpoint>;
  lookup: CertificateLookup;
  /** The last send/receive results (the console's client module page, when it runs in the same process). */
  outcomes: OutcomeRing;
  close(graceMs?: number): Promise<void>;
}


/**
 * The `clientmodule` role: SMTP (STARTTLS and implicit TLS) and POP3 (STLS and implicit TLS)
 * towards primary systems, in front of the send and receive pipelines.
 */
export async function startClientModule(config: Config, logger: Logger, parts: ClientModuleParts = {}): Promise<RunningClientModule> {
  const cm = config.clientModule;
  // Every listener and client of this process takes the TI's TLS profile from config.tls.
  useTlsProfile(config.tls);
  useTlsResumption(config.tls.resumption);
  const tls = parts.tls ?? (await loadTlsMaterial(config, ['localhost', '127.0.0.1', '::1', config.service.hostname]));
  const own = parts.konnektor ?? createKonnektor(config.konnektor, config.dataDir, logger.child({ role: 'clientmodule', part: 'konnektor' }));
  /** A Konnektor made here is closed here (the software one's worker threads); one passed in belongs to the caller. */
  const closeKonnektor = async (): Promise<void> => {
    if (!parts.konnektor) await own.close?.().catch(() => undefined);
  };
  const metrics = parts.metrics ?? new Metrics();
  // Every Konnektor call is counted and timed (calls, outcomes, latency on /metrics).
  const konnektor = instrumentKonnektor(own, metrics);
  const throttle = parts.throttle ?? new LoginThrottle(config.service.loginThrottle);
  // Without configured anchors the platform's own certificates are trusted (one machine, the demo); both, since with
  // an RSA and an ECC one the ECC one is what the upstream shows us (A_17239).
  const ownCerts = [tls.cert, ...(tls.ecc ? [tls.ecc.cert] : [])];
  const upstreamCa = cm.upstream.ca.length ? cm.upstream.ca.map((p) => readFileSync(inDataDir(config, p), 'utf8')) : ownCerts;
  const lookup = new CertificateLookup(
    {
      url: cm.directory.url,
      baseDn: cm.directory.baseDn,
      startTls: cm.directory.startTls,
      ca: cm.directory.ca ? readFileSync(inDataDir(config, cm.directory.ca), 'utf8') : ownCerts.join('\n'),
      cacheTtlMs: cm.directory.cacheTtlMs,
      negativeCacheTtlMs: cm.directory.negativeCacheTtlMs,
      versionCacheTtlMs: cm.directory.versionCacheTtlMs,
      maxCacheEntries: cm.directory.maxCacheEntries,
      timeoutMs: cm.directory.timeoutMs,
    },
    logger.child({ role: 'clientmodule' }),
  );
  const clientCa = cm.clientCertificateCa.length ? cm.clientCertificateCa.map((p) => readFileSync(inDataDir(config, p), 'utf8')) : undefined;
  const upstream = { ca: upstreamCa, rejectUnauthorized: cm.upstream.rejectUnauthorized, timeoutMs: cm.upstream.timeoutMs };
  const clientCertificate = await loadClientModuleCertificates(config);
  const policy = new LoginPolicy(cm.accounts, cm.providers);
  const outcomes = parts.outcomes ?? new OutcomeRing(cm.recentOutcomes);
  for (const w of clientModuleWarnings(config, true)) logger.warn({ role: 'clientmodule' }, w);
  const smtpBackend = new ClientModuleSmtpBackend({
    konnektor,
    lookup,
    policy,
    upstream: { ...upstream, clientName: config.service.hostname },
    ...(clientCertificate ? { clientCertificate } : {}),
    hostname: config.service.hostname,
    dataTimeToLiveDays: cm.dataTimeToLiveDays,
    // getLimits goes to the same service as the upstream sessions, trusting the same anchors.
    ...(cm.accountLimit.url
      ? {
          limits: new AccountLimitClient({
            url: cm.accountLimit.url,
            ca: upstreamCa,
            rejectUnauthorized: cm.upstream.rejectUnauthorized,
            timeoutMs: cm.accountLimit.timeoutMs,
            cacheTtlMs: cm.accountLimit.cacheTtlMs,
            maxEntries: cm.accountLimit.maxEntries,
            logger: logger.child({ role: 'clientmodule', part: 'getLimits' }),
          }),
        }
      : {}),
    signatureKey: cm.signatureKey,
    logger: logger.child({ role: 'clientmodule' }),
    outcomes,
  });
  const pop3Backend = new ClientModulePop3Backend({
    konnektor,
    policy,
    upstream,
    ...(clientCertificate ? { clientCertificate } : {}),
    appendNote: cm.appendNote,
    integrityFailure: cm.integrityFailure,
    sessionCacheBytes: cm.sessionCacheBytes,
    cacheBudget: new ByteBudget(cm.cacheTotalBytes),
    sizeCache: new PresentedSizeCache(cm.sizeCacheEntries),
    maxMessageSize: cm.maxMessageSize,
    logger: logger.child({ role: 'clientmodule' }),
    outcomes,
  });

  // A SOAP Konnektor reads its service directory first (endpoints, versions, ECC, A_17464). One
  // that cannot be reached now does not stop the start: until it answers, sending gets 451 and
  // fetched messages DecryptionResult 03, and every call tries the directory again.
  try {
    await konnektor.ready?.();
  } catch (err) {
    logger.warn({ role: 'clientmodule', err: err instanceof Error ? err.message : String(err) }, 'the Konnektor cannot be reached yet; sending and decrypting wait for it');
  }
  const started = new RunningParts();
  const { endpoints } = started;
  const smtpLimits = { ...cm.smtp, maxMessageSize: cm.maxMessageSize, maxRecipients: cm.maxRecipients };
  try {
    for (const [name, lc, tlsMode] of [
      ['cm-smtp', cm.smtp.starttls, 'starttls'],
      ['cm-smtps', cm.smtp.implicit, 'implicit'],
    ] as const) {
      const plaintextAuth = tlsMode === 'starttls' && (cm.allowPlaintextAuth === 'always' || (cm.allowPlaintextAuth === 'loopback' && isLoopbackHost(lc.host)));
      await started.listen(name, lc, tlsMode, () => new SmtpListener({
        name,
        host: lc.host,
        port: lc.port,
        tlsMode,
        tls,
        clientCa,
        auth: true,
        requireAuth: true,
        allowInsecureAuth: plaintextAuth,
        hostname: config.service.hostname,
        limits: smtpLimits,
        greetingDelay: lc.greetingDelay,
        backend: smtpBackend,
        logger,
        metrics,
        throttle,
      }));
    }
    for (const [name, lc, tlsMode] of [
      ['cm-pop3', cm.pop3.starttls, 'starttls'],
      ['cm-pop3s', cm.pop3.implicit, 'implicit'],
    ] as const) {
      await started.listen(name, lc, tlsMode, () => new Pop3Server({
        name,
        host: lc.host,
        port: lc.port,
        tlsMode,
        tls,
        clientCa,
        backend: pop3Backend,
        hostname: config.service.hostname,
        limits: { ...cm.pop3, allowPlaintextAuth: cm.allowPlaintextAuth },
        logger,
        metrics,
        throttle,
      }));
    }
  } catch (err) {
    await started.abort();
    await lookup.close();
    await closeKonnektor();
    throw err;
  }
  logger.info({ endpoints }, 'client module listening');
  return {
    endpoints,
    lookup,
    outcomes,
    close: async (graceMs = config.service.shutdownGraceMs) => {
      await started.close(graceMs, logger);
      await lookup.close();
      await closeKonnektor();
    },
  };
}
