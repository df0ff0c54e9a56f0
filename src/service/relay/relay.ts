import type { GroupCommit, Store } from '../../store/index.js';
import type { RelayConfig } from '../../config/index.js';
import type { Logger, Metrics } from '../../core/index.js';
import type { Accounts } from '../accounts.js';
import type { Mailboxes } from '../mailboxes.js';
import { RelayQueue } from './outbound-queue.js';
import { RelayIntake } from './relay-intake.js';
import { RelayWorker } from './relay-worker.js';
import { RelayRoutes, type MxResolver, type RelayTarget } from './routes.js';
import { RelayQueueAdmin } from './queue-admin.js';
import type { MessageTrace } from '../trace.js';

export interface Relay {
  /** The submission backend's filing handler for recipients in other domains. */
  intake: RelayIntake;
  queue: RelayQueue;
  routes: RelayRoutes;
  worker: RelayWorker;
  admin: RelayQueueAdmin;
}

export interface RelaySetup {
  store: Store;
  accounts: Accounts;
  mailboxes: Mailboxes;
  commits: GroupCommit;
  logger: Logger;
  metrics?: Metrics;
  /** service.hostname: EHLO (unless relay.heloName) and the DSNs' Reporting-MTA. */
  hostname: string;
  /** The PEM contents of relay.ca, and of each route's ca, by domain (read by the role). */
  ca: string[];
  routeCa: Record<string, string[]>;
  /** Tests give MX answers without DNS. */
  resolveMx?: MxResolver;
  /** The message trace, when on. */
  trace?: MessageTrace | undefined;
}

/** The relay's parts over one store; the worker is created, not started. */
export function createRelay(config: RelayConfig, setup: RelaySetup): Relay {
  const queue = new RelayQueue(setup.store.db, setup.store.dialect, config.worker.leaseMs);
  const trusted = (extra: string[] = []) => (extra.length + setup.ca.length > 0 ? [...extra, ...setup.ca] : undefined);
  const routes: Record<string, RelayTarget> = {};
  for (const [domain, r] of Object.entries(config.routes)) routes[domain] = { host: r.host, port: r.port, tls: r.tls, ca: trusted(setup.routeCa[domain]) };
  const relayRoutes = new RelayRoutes({
    routes,
    mxPort: config.mxPort,
    mxTls: config.mxTls,
    maxMxHosts: config.maxMxHosts,
    ca: trusted(),
    ...(setup.resolveMx ? { resolveMx: setup.resolveMx } : {}),
  });
  const worker = new RelayWorker(
    { db: setup.store.db, blobs: setup.store.blobs, queue, routes: relayRoutes, accounts: setup.accounts, mailboxes: setup.mailboxes, commits: setup.commits, logger: setup.logger, metrics: setup.metrics, trace: setup.trace },
    {
      concurrency: config.worker.concurrency,
      pollIntervalMs: config.worker.pollIntervalMs,
      leaseMs: config.worker.leaseMs,
      heloName: config.heloName ?? setup.hostname,
      reportingMta: setup.hostname,
      timeoutMs: config.timeoutMs,
      dataTimeoutMs: config.dataTimeoutMs,
      retryScheduleMs: config.retry.scheduleMs,
      maxAgeMs: config.retry.maxAgeMs,
      delayWarnMs: config.retry.delayWarnMs,
      sessionIdleMs: config.sessionIdleMs,
      sessionMaxTransactions: config.sessionMaxTransactions,
      streamAboveBytes: config.streamAboveBytes,
    },
  );
  const intake = new RelayIntake(queue);
  // Rows this node queues wake its own worker after the COMMIT (a worker not started ignores it).
  intake.wakeOnEnqueue(() => worker.wake());
  return { intake, queue, routes: relayRoutes, worker, admin: new RelayQueueAdmin(setup.store.db, setup.store.blobs, (id) => worker.returnToSender(id)) };
}
