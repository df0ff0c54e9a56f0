import { createRequire } from 'node:module';
import type { Config } from '../config/index.js';
import { LoginThrottle, Metrics, errorMessage, type Logger } from '../core/index.js';
import type { Store } from '../store/index.js';
import { loadTlsMaterial, type TlsMaterial } from '../crypto/index.js';
import { Directory, DirectoryLdapBackend, directoryOptions, type BindAccounts } from '../directory/index.js';
import { LdapServer } from '../ldap/index.js';
import type { Endpoint } from './endpoints.js';

export interface DirectoryRoleParts {
  store: Store;
  /** Simple binds are checked against the service's accounts. */
  accounts: BindAccounts;
  /** The directory to serve; one over `store` is made when absent (a directory-only node). */
  directory?: Directory;
  tls?: TlsMaterial;
  metrics?: Metrics;
  /** Shared with SMTP and POP3 so a password guesser cannot switch protocols. */
  throttle?: LoginThrottle;
}

export interface RunningDirectory {
  directory: Directory;
  endpoints: Record<string, Endpoint>;
  close(graceMs?: number): Promise<void>;
}

function packageVersion(): string {
  try {
    return (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;
  } catch {
    return '0';
  }
}

/**
 * The `directory` role: the VZD over LDAP, a plain listener offering StartTLS and an LDAPS
 * listener, both in front of the same DirectoryLdapBackend. Listeners on port 0 get ephemeral
 * ports; the actual ones are in `endpoints` (`ldap`, `ldaps`).
 */
export async function startDirectory(config: Config, logger: Logger, parts: DirectoryRoleParts): Promise<RunningDirectory> {
  const dc = config.directory;
  const directory = parts.directory ?? new Directory(parts.store, directoryOptions(dc));
  const backend = new DirectoryLdapBackend(directory, parts.accounts);
  // A serving node keeps the hot equality keys and entries in memory (docs/directory.md, "Cache").
  directory.keepWarm();
  const warmStart = performance.now();
  void directory.warmed().then(
    () => {
      logger.info({ ms: Math.round(performance.now() - warmStart), warm: directory.isWarm }, 'directory index and cache warm');
      logger.flush(); // a milestone worth seeing now, not when the buffered log fills up
    },
    () => undefined,
  );
  const tls = parts.tls ?? (await loadTlsMaterial(config, ['localhost', '127.0.0.1', '::1', config.service.hostname]));
  const throttle = parts.throttle ?? new LoginThrottle(config.service.loginThrottle);
  const metrics = parts.metrics ?? new Metrics();
  const vendorVersion = packageVersion();
  const servers: Array<{ name: string; s: LdapServer }> = [];
  const endpoints: Record<string, Endpoint> = {};
  const { ldap, ldaps, baseDn: _baseDn, ...limits } = dc;
  try {
    for (const [name, lc, mode] of [
      ['ldap', ldap, 'plain'],
      ['ldaps', ldaps, 'ldaps'],
    ] as const) {
      if (!lc.enabled) continue;
      const s = new LdapServer({ name, mode, host: lc.host, port: lc.port, tls, backend, limits, logger, metrics, throttle, vendorVersion });
      const a = await s.listen();
      servers.push({ name, s });
      endpoints[name] = { host: lc.host, port: a.port, tls: mode === 'plain' ? 'starttls' : 'implicit' };
    }
  } catch (err) {
    await Promise.all(servers.map(({ s }) => s.close(0)));
    await directory.stopWarm();
    throw err;
  }
  return {
    directory,
    endpoints,
    close: async (graceMs = 0) => {
      await Promise.all(
        servers.map(({ name, s }) => s.close(graceMs).catch((err: unknown) => logger.warn({ listener: name, err: errorMessage(err) }, 'error while closing'))),
      );
      await directory.stopWarm();
    },
  };
}

/** The directory role next to a running service in the same process: same store, directory, accounts, TLS, metrics and throttle. */
export function startDirectoryFor(
  service: { store: Store; accounts: BindAccounts; directory: Directory; tls: TlsMaterial; metrics: Metrics; throttle: LoginThrottle },
  config: Config,
  logger: Logger,
): Promise<RunningDirectory> {
  return startDirectory(config, logger, service);
}
