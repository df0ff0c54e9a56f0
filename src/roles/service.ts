import { existsSync, readFileSync } from 'node:fs';
import { inDataDir, type Config } from '../config/index.js';
import type { ClientCertificateMode, HostPort, Logger } from '../core/index.js';
import { Metrics, MetricsHistory, LoginThrottle, UsageError, isLoopbackHost, useTlsProfile, useTlsResumption } from '../core/index.js';
import { openStore, GroupCommit, dataPaths, makePrivate, type Store } from '../store/index.js';
import { loadTlsMaterial, readCertificateFile, type TlsMaterial } from '../crypto/index.js';
import { X509Certificate } from 'node:crypto';
import { resolve } from 'node:path';
import { AccountManager, Accounts, AccountsAdmin, KimRegistrations, AccountLimitService, LoginCache, Mailboxes, LocalDelivery, Retention, ServiceSmtpBackend, MailRules, Notices, createRelay, setPasswordThreads, startRetention, PASSWORD_POLICY_DISPLAY, PASSWORD_POLICY_REGEX, type MxResolver, type Relay } from '../service/index.js';
import { ServicePop3Backend } from '../service/pop3-backend.js';
import { startMaintenance } from '../service/maintenance.js';
import { MessageTrace } from '../service/trace.js';
import { SmtpListener } from '../smtp/index.js';
import { Pop3Server } from '../pop3/index.js';
import { createHttpServer, listenHttp, registerAdminApi, resolveAdminToken, accountsAdminRoutes, directoryAdminRoutes, konnektorAdminRoutes, mailinAdminRoutes, queueAdminRoutes, statsAdminRoutes, ConsoleSessions, registerConsole, cookieVerdict, traceAdminRoutes, clientModuleAdminRoutes, accountLimitRoutes, serviceInformationRoutes, accountManagerRoutes } from '../http/index.js';
import type { OutcomeRing } from '../clientmodule/outcomes.js';
import { clientModuleConfigView } from './clientmodule-view.js';
import { configuredKonnektorStatus, statusContexts } from './konnektor-status.js';
import { Directory, DirectoryAccountFeed, DirectoryAdmin, directoryOptions } from '../directory/index.js';
import { createMailin, type Mailin } from '../mailin/index.js';
import type { FastifyPluginAsync } from 'fastify';
import { addListeners, type Endpoint } from './endpoints.js';
import { setupIntegration, type ServiceIntegration } from './integration.js';
import { RunningParts } from './running-parts.js';
import { clientCertificateIssuer } from './client-certificates.js';
import { sql } from 'kysely';

export interface RunningService {
  store: Store;
  accounts: Accounts;
  /** KIM's Account Manager operations (registration life cycle); the HTTP side is /AccountMgmt/v2.4. */
  accountManager: AccountManager;
  mailboxes: Mailboxes;
  /** The VZD directory the accounts feed (mail, komLeData); the directory role serves it over LDAP. */
  directory: Directory;
  /** Mail-in databases, agents, the job queue and its worker. */
  mailin: Mailin;
  /** Relaying to other providers: the outbound queue, its worker, routes and admin. */
  relay: Relay;
  /** The message trace (docs/trace.md); undefined when service.trace.enabled is false. */
  trace: MessageTrace | undefined;
  /** User sources, own authentication, archive access; `url` is the Application Integration endpoint when enabled. */
  integration: ServiceIntegration & { url?: string };
  metrics: Metrics;
  /** Failed logins per client address, shared by every protocol (the directory role's binds too). */
  throttle: LoginThrottle;
  tls: TlsMaterial;
  endpoints: Record<string, Endpoint>;
  /**
   * Every listener of this process, which mail-in webhooks and scripts may never call: the
   * service's own, added as they start; a role running beside it in the process adds its own.
   */
  ownListeners: HostPort[];
  /** The bearer token of the admin API (/api/ on the HTTP listener). */
  adminToken: string;
  /** Deletes messages past their account's dataTimeToLive (service.kim.retention; run() on demand too). */
  retention: Retention;
  close(): Promise<void>;
}

/** What a test may put in place of the world outside: DNS answers for the relay's MX lookups. */
export interface ServiceHooks {
  resolveMx?: MxResolver;
  /**
   * The configuration whose Konnektor GET /api/konnektor/status reports on (default: this one);
   * the demo points it at its client module's, which it completes after the service is up.
   */
  konnektorConfig?: () => Config;
  /** The message trace's clock (tests of retention). */
  traceNow?: () => number;
  /** The outcome ring of a client module running in this process (the demo's), for GET /api/clientmodule/outcomes. */
  clientModuleOutcomes?: () => OutcomeRing | undefined;
  /** The retention job's clock (tests move it past a dataTimeToLive). */
  retentionNow?: () => number;
}

/** PEM files named in the config (relative to dataDir), read at start so a wrong path fails it. */
function readPemFiles(config: Config, key: string, paths: readonly string[]): string[] {
  return paths.map((p) => {
    const file = inDataDir(config, p);
    if (!existsSync(file)) throw new UsageError(`${key}: file ${file} does not exist`);
    return readFileSync(file, 'utf8');
  });
}

/**
 * A listener's mutual TLS from its `clientCertificate` mode: the trusted CAs (service.clientCertificateCa,
 * else createCert's CA), read once at start so that a wrong path fails it.
 */
function clientCertificateListeners(config: Config): (mode: ClientCertificateMode) => { clientCa?: string[]; clientCertificate?: 'request' | 'require' } {
  let ca: string[] | undefined;
  return (mode) => {
    if (mode === 'off') return {};
    if (!ca) {
      const svc = config.service;
      const fallback = svc.kim.accountManager.clientCertificates.caCert;
      const key = svc.clientCertificateCa.length ? 'service.clientCertificateCa' : 'service.kim.accountManager.clientCertificates.caCert';
      const paths = svc.clientCertificateCa.length ? svc.clientCertificateCa : fallback !== undefined ? [fallback] : [];
      if (paths.length === 0) throw new UsageError('clientCertificate is on for a listener, but no CA is given: set service.clientCertificateCa or service.kim.accountManager.clientCertificates.caCert');
      ca = readPemFiles(config, key, paths);
    }
    return { clientCa: ca, clientCertificate: mode };
  };
}

/** What an older release created open to other local users is closed before anything is read or served. */
function makeDataPrivate(config: Config, logger: Logger): void {
  const { changed, failed } = makePrivate(dataPaths(config));
  if (changed > 0) logger.warn({ dataDir: config.dataDir, changed }, 'data directory: removed group/other access (paths an older release created open, or opened since)');
  if (failed.length > 0) logger.error({ dataDir: config.dataDir, failed: failed.length, first: failed[0]!.path }, 'data directory: paths open to group/others that this user may not change (postamt config check lists them)');
}

/**
 * The `service` role: store, SMTP (MX and submission), POP3 (STLS and implicit TLS) and the
 * HTTP listener, composed from config. Listeners on port 0 get ephemeral ports; the actual
 * ones are in `endpoints`.
 */
export async function startService(config: Config, logger: Logger, existingStore?: Store, hooks: ServiceHooks = {}): Promise<RunningService> {
  const svc = config.service;
  makeDataPrivate(config, logger);
  const store = existingStore ?? (await openStore(config));
  const started = new RunningParts();
  const { endpoints } = started;
  const metrics = new Metrics();
  try {
    const hostnames = ['localhost', '127.0.0.1', '::1', svc.hostname];
    // Every listener and client of this process (relay, webhooks) takes the TI's TLS profile from config.tls.
    useTlsProfile(config.tls);
    useTlsResumption(config.tls.resumption);
    const tls = await loadTlsMaterial(config, hostnames);
    if (tls.origin === 'generated') logger.info({ fingerprint: tls.fingerprint, cert: tls.certPath }, 'using a self-signed TLS certificate');

    if (svc.passwordThreads !== undefined) setPasswordThreads(svc.passwordThreads);
    const throttle = new LoginThrottle(svc.loginThrottle);
    const adminToken = resolveAdminToken(svc.http.adminToken, config.dataDir);
    const accounts = new Accounts(store.db, store.blobs, new LoginCache(svc.loginCache, metrics));
    const accountManager = new AccountManager(store.db, accounts, {
      kimVersions: svc.kim.accountManager.kimVersions,
      deregistrationDays: svc.kim.accountManager.deregistrationDays,
      otpLifetimeSeconds: svc.kim.accountManager.otpLifetimeSeconds,
      referenceIdRequired: svc.kim.serviceInformation.referenceIdRequired,
      initialPasswordRequired: svc.kim.serviceInformation.initialPasswordRequired,
      defaults: svc.kim.defaults,
      ...clientCertificateIssuer(svc.kim.accountManager.clientCertificates, config.dataDir),
    });
    const directory = new Directory(store, directoryOptions(config.directory));
    accounts.onChange(new DirectoryAccountFeed(directory));
    // One group commit for every writer on the delivery path: deliveries and the mail-in
    // worker's settlements share COMMITs (on SQLite each is an fsync on this thread).
    const commits = new GroupCommit(store.db);
    const mailboxes = new Mailboxes(store.db, store.blobs, commits);
    // The message trace: recorded in order, written behind the work through the group commit (docs/trace.md).
    const trace = svc.trace.enabled
      ? new MessageTrace(store.db, commits, { node: svc.trace.node, retentionDays: svc.trace.retentionDays, flushMs: svc.trace.flushMs, maxPending: svc.trace.maxPending, logger, ...(hooks.traceNow ? { now: hooks.traceNow } : {}) })
      : undefined;
    const delivery = new LocalDelivery(store.blobs, mailboxes, svc.hostname, logger, metrics, trace);
    // Mail-in databases: addresses whose mail becomes documents and triggers agents (docs/mailin.md).
    const ownListeners: HostPort[] = [];
    const mailin = createMailin(store, accounts, config.mailin, logger, commits, ownListeners, trace);
    // Archive integration: user sources, own authentication, archive user, journal (docs/integration.md).
    const integration: ServiceIntegration & { url?: string } = await setupIntegration(config, store, accounts, logger, metrics);
    started.add('integration-sources', { close: () => integration.close() });
    // Relaying: submission queues recipients in other domains; the worker sends them (docs/mail-service.md).
    const relayConfig = svc.relay;
    const relay = createRelay(relayConfig, {
      store,
      accounts,
      mailboxes,
      commits,
      logger,
      metrics,
      hostname: svc.hostname,
      ca: readPemFiles(config, 'service.relay.ca', relayConfig.ca),
      routeCa: Object.fromEntries(Object.entries(relayConfig.routes).map(([d, r]) => [d, readPemFiles(config, `service.relay.routes.${d}.ca`, r.ca)])),
      ...(hooks.resolveMx ? { resolveMx: hooks.resolveMx } : {}),
      trace,
    });
    const relayPolicy = relayConfig.enabled ? { handler: relay.intake, maxRecipients: relayConfig.maxRecipients } : undefined;
    // The Fachdienst's mail rules: its notices go to local senders' mailboxes or through the relay.
    const rulesConfig = svc.kim.mailRules;
    const rules = new MailRules(store.db, accounts, new Notices(accounts, delivery, svc.hostname, logger, relayPolicy?.handler), logger, {
      hostname: svc.hostname,
      successDsn: rulesConfig.successDsn,
      senderChecks: rulesConfig.senderChecks,
      replyToSuffixes: rulesConfig.replyToDomainSuffixes,
      outOfOffice: { enabled: rulesConfig.outOfOffice.enabled, intervalMs: rulesConfig.outOfOffice.intervalDays * 86_400_000 },
    }, metrics);

    // MX: mail from other providers, STARTTLS, no AUTH. Submission: implicit TLS, AUTH (or, with
    // acceptFromProviders, a provider's session without AUTH under the MX rules).
    const clientAuth = clientCertificateListeners(config);
    for (const [name, lc, mode, tlsMode] of [
      ['smtp-mx', svc.smtp.mx, 'mx', 'starttls'],
      ['smtp-submission', svc.smtp.submission, 'submission', 'implicit'],
    ] as const) {
      const submission = mode === 'submission';
      await started.listen(name, lc, tlsMode, () => new SmtpListener({
        name,
        host: lc.host,
        port: lc.port,
        tlsMode,
        tls,
        ...(submission ? clientAuth(lc.clientCertificate) : {}),
        auth: submission,
        requireAuth: submission && !svc.smtp.submission.acceptFromProviders,
        hostname: svc.hostname,
        limits: svc.smtp,
        greetingDelay: lc.greetingDelay,
        backend: new ServiceSmtpBackend(mode, accounts, delivery, {
          handler: mailin.router,
          integration: integration.smtp,
          relay: relayPolicy,
          acceptFromProviders: svc.smtp.submission.acceptFromProviders,
          trace,
          rules,
        }),
        logger,
        metrics,
        throttle,
      }));
    }
    addListeners(ownListeners, endpoints);
    const pop3Backend = new ServicePop3Backend(accounts, mailboxes, { ...integration.pop3, trace, logger });
    for (const [name, lc, tlsMode] of [
      ['pop3', svc.pop3.starttls, 'starttls'],
      ['pop3s', svc.pop3.implicit, 'implicit'],
    ] as const) {
      await started.listen(name, lc, tlsMode, () => new Pop3Server({
        name,
        host: lc.host,
        port: lc.port,
        tlsMode,
        tls,
        ...clientAuth(lc.clientCertificate),
        backend: pop3Backend,
        hostname: svc.hostname,
        limits: svc.pop3,
        logger,
        metrics,
        throttle,
      }));
    }
    // The console's charts: the /metrics counters sampled into a ring (GET /api/stats).
    const consoleConfig = svc.http.console;
    const history = new MetricsHistory(metrics, {
      sampleMs: consoleConfig.sampleMs,
      samples: consoleConfig.historySamples,
      queueDepth: async () => Number((await store.db.selectFrom('relay_queue').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n),
    });
    if (svc.http.enabled) {
      history.start();
      started.add('metrics-history', { close: async () => history.close() });
      const health = async () => {
        await sql`select 1`.execute(store.db);
        return { ok: true, checks: { database: 'ok' } };
      };
      const httpTls = isLoopbackHost(svc.http.host) ? undefined : tls;
      const app = await createHttpServer({
        host: svc.http.host,
        port: svc.http.port,
        logger,
        metrics,
        // TLS everywhere off loopback; on loopback plain HTTP keeps curl and Prometheus simple.
        tls: httpTls,
        health,
      });
      // Each feature's admin routes, as fastify plugins mounted under /api behind the bearer check.
      const adminPlugins: FastifyPluginAsync[] = [
        accountsAdminRoutes(new AccountsAdmin(accounts, { registrations: new KimRegistrations(store.db), defaults: svc.kim.defaults })),
        directoryAdminRoutes(new DirectoryAdmin(directory, config.directory.importMaxBytes)),
        mailinAdminRoutes(mailin.admin),
        queueAdminRoutes(relay.admin),
        statsAdminRoutes({ sampleMs: consoleConfig.sampleMs, samples: () => history.samples(), listeners: () => endpoints, health }),
        ...(trace ? [traceAdminRoutes(trace)] : []),
        // The practice's Konnektor as the client module of this configuration reaches it.
        konnektorAdminRoutes({
          status: ({ warnDays }) => {
            const c = hooks.konnektorConfig?.() ?? config;
            return configuredKonnektorStatus(c, statusContexts(c), warnDays);
          },
        }),
        // The client module's contexts from the same configuration; its outcomes only when it runs in this process.
        clientModuleAdminRoutes({
          configuration: () => clientModuleConfigView(hooks.konnektorConfig?.() ?? config),
          outcomes: () => hooks.clientModuleOutcomes?.(),
        }),
      ];
      // The admin console: sign in with the admin token, then a session cookie that /api takes too (docs/console.md).
      const sessions = consoleConfig.enabled ? new ConsoleSessions({ idleMs: consoleConfig.sessionIdleMs, maxMs: consoleConfig.sessionMaxMs, maxSessions: consoleConfig.maxSessions }) : undefined;
      await registerAdminApi(app, { token: adminToken, ...(sessions ? { cookie: (req) => cookieVerdict(sessions, req) } : {}) }, adminPlugins);
      if (sessions) {
        await registerConsole(app, {
          sessions,
          adminToken,
          throttle: new LoginThrottle(consoleConfig.loginThrottle),
          failureDelayMs: consoleConfig.loginFailureDelayMs,
          secureCookie: httpTls !== undefined || !isLoopbackHost(svc.http.host),
        });
      }
      // KIM's provider interfaces (docs/kim-provider-apis.md): getLimits with the account's own
      // credentials under the service's login throttle; the service information without any.
      if (svc.kim.enabled) {
        await app.register(accountLimitRoutes({
          backend: new AccountLimitService(accounts, svc.kim.defaults, integration.pop3.logins),
          throttle,
          logger,
          metrics,
          maxAgeSeconds: svc.kim.limitsMaxAgeSeconds,
        }));
        await app.register(serviceInformationRoutes({
          ...svc.kim.serviceInformation,
          passwordPolicyRegEx: PASSWORD_POLICY_REGEX,
          passwordPolicyDisplay: PASSWORD_POLICY_DISPLAY,
        }));
        const am = svc.kim.accountManager;
        if (am.enabled) {
          await app.register(accountManagerRoutes({
            manager: accountManager,
            trustAnchors: lazyTrustAnchors(am.trustAnchors.map((p) => resolve(config.dataDir, p)), logger),
            audiences: am.audiences,
            jwtExpiration: svc.kim.serviceInformation.jwtExpiration,
            clockSkewSeconds: am.clockSkewSeconds,
            throttle,
            logger,
            metrics,
          }));
        }
      }
      // MailStore's Application Integration endpoint: its own Basic credentials, outside /api.
      if (integration.routes) await app.register(integration.routes);
      const a = await listenHttp(app, svc.http.host, svc.http.port);
      if (integration.routes) integration.url = `${isLoopbackHost(svc.http.host) ? 'http' : 'https'}://${svc.http.host.includes(':') ? `[${svc.http.host}]` : svc.http.host}:${a.port}${integration.path}`;
      started.add('http', { close: () => app.close() });
      endpoints.http = { host: svc.http.host, port: a.port, tls: isLoopbackHost(svc.http.host) ? 'none' : 'implicit' };
    }
    addListeners(ownListeners, endpoints);

    if (config.mailin.worker.enabled) {
      mailin.worker.start();
      started.add('mailin-worker', { close: (graceMs) => mailin.worker.close(graceMs) });
    }
    // Runs even with relaying off at submission: mail queued before (or by another node) still goes out.
    if (relayConfig.worker.enabled) {
      relay.worker.start();
      started.add('relay-worker', { close: (graceMs) => relay.worker.close(graceMs) });
    }

    const stopMaintenance = startMaintenance(store, logger, { graceMs: svc.blobGcGraceMs, intervalMs: svc.blobGcIntervalMs, trace });
    started.add('maintenance', { close: stopMaintenance });
    const retention = new Retention(store.db, mailboxes, {
      defaultDays: svc.kim.defaults.dataTimeToLiveDays,
      batchSize: svc.kim.retention.batchSize,
      logger,
      metrics,
      trace,
      ...(hooks.retentionNow ? { now: hooks.retentionNow } : {}),
      ...(svc.kim.accountManager.enabled ? { deregistered: accountManager } : {}),
    });
    if (svc.kim.retention.enabled) {
      const stopRetention = startRetention(retention, logger, svc.kim.retention.intervalMs);
      started.add('retention', { close: stopRetention });
    }

    return {
      store,
      accounts,
      accountManager,
      mailboxes,
      directory,
      mailin,
      relay,
      trace,
      integration,
      metrics,
      throttle,
      tls,
      endpoints,
      ownListeners,
      adminToken,
      retention,
      close: async () => {
        // Listeners first (stop accepting, let transactions finish), the store last.
        await started.close(svc.shutdownGraceMs, logger);
        // Its threads serve SMTP sessions and the worker, which are closed now.
        await mailin.close();
        // What the stopped parts recorded, written before the store closes.
        await trace?.close();
        if (!existingStore) await store.close();
      },
    };
  } catch (err) {
    await started.abort();
    if (!existingStore) await store.close();
    throw err;
  }
}

/**
 * The Account Manager's trust anchors, read when first needed and kept once every file was
 * read; a file that cannot be read yet (the demo writes its PKI after the service starts) is
 * tried again at the next call, and until then JWTs its CA issued are refused.
 */
function lazyTrustAnchors(paths: readonly string[], logger: Logger): () => readonly X509Certificate[] {
  let loaded: X509Certificate[] | undefined;
  return () => {
    if (loaded) return loaded;
    const out: X509Certificate[] = [];
    let complete = true;
    for (const p of paths) {
      try {
        out.push(...readCertificateFile(p).map((d) => new X509Certificate(d)));
      } catch (err) {
        complete = false;
        logger.warn({ path: p, err: (err as Error).message }, 'Account Manager trust anchor cannot be read');
      }
    }
    if (complete) loaded = out;
    return out;
  };
}
