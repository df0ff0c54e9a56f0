import type { FastifyPluginAsync } from 'fastify';
import type { Config } from '../config/index.js';
import { LoginThrottle, type Logger, type Metrics } from '../core/index.js';
import type { Store } from '../store/index.js';
import type { Accounts, LoginCheck, ServicePop3Options, SmtpBackendIntegration } from '../service/index.js';
import { integrationRoutes } from '../http/index.js';
import { createUserSources, SourceLoginCheck, resolveIntegrationPassword, type CombinedSource } from '../integration/index.js';

/** The archive integration as the service role wires it into its listeners. */
export interface ServiceIntegration {
  sources: CombinedSource;
  /** For SMTP AUTH and POP3: the auth source when `authSource` is set. */
  logins?: LoginCheck;
  smtp: SmtpBackendIntegration;
  pop3: ServicePop3Options;
  /** The endpoint's routes, when `integration.enabled`. */
  routes?: FastifyPluginAsync;
  credentials: { user: string; password: string };
  path: string;
  close(): Promise<void>;
}

/**
 * Builds the user sources, own authentication, archive access and (when enabled) the
 * Application Integration endpoint from `config.integration` (docs/integration.md).
 */
export async function setupIntegration(config: Config, store: Store, accounts: Accounts, logger: Logger, metrics: Metrics): Promise<ServiceIntegration> {
  const ic = config.integration;
  const sources = createUserSources(config, { accounts });
  const authSource = ic.authSource ? sources.get(ic.authSource) : undefined;
  const logins = authSource ? new SourceLoginCheck(accounts, authSource, ic.authUserName) : undefined;
  // Named accounts that do not exist yet are allowed (they may be created later), but said.
  for (const [what, address] of [
    ['archiveUser', ic.archiveUser],
    ['journalAddress', ic.journalAddress],
  ] as const) {
    if (!address) continue;
    const a = await accounts.find(address);
    if (!a) logger.warn({ [what]: address }, `integration.${what} names no account yet`);
    else if (what === 'journalAddress' && a.quotaBytes > 0) logger.warn({ journalAddress: address, quotaBytes: a.quotaBytes }, 'the journal account has a quota: deliveries get 452 when it is full');
  }
  const password = ic.enabled ? resolveIntegrationPassword(ic.credentials.password, config.dataDir) : (ic.credentials.password ?? '');
  const routes = ic.enabled
    ? integrationRoutes(
        {
          list: (signal) => sources.list(signal),
          authenticate: (user, pass) => sources.authenticate(user, pass),
        },
        {
          path: ic.path,
          user: ic.credentials.user,
          password,
          maxBodyBytes: ic.maxBodyBytes,
          listChunkBytes: ic.listChunkBytes,
          userThrottle: new LoginThrottle(ic.userThrottle),
          clientThrottle: new LoginThrottle(ic.clientThrottle),
          logger,
          metrics,
        },
      )
    : undefined;
  return {
    sources,
    ...(logins ? { logins } : {}),
    smtp: { ...(logins ? { logins } : {}), ...(ic.journalAddress ? { journalAddress: ic.journalAddress } : {}) },
    pop3: { ...(logins ? { logins } : {}), ...(ic.archiveUser ? { archiveUser: ic.archiveUser } : {}), logger },
    ...(routes ? { routes } : {}),
    credentials: { user: ic.credentials.user, password },
    path: ic.path,
    close: () => sources.close(),
  };
}
