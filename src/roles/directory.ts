import type { Socket } from 'node:net';
import type { Config } from '../config/index.js';
import { LoginThrottle, Metrics, errorMessage, postamtVersion, useTlsProfile, useTlsResumption, type Logger } from '../core/index.js';
import type { Store } from '../store/index.js';
import { loadTlsMaterial, type TlsMaterial } from '../crypto/index.js';
import { Directory, DirectoryLdapBackend, directoryOptions, type BindAccounts } from '../directory/index.js';
import { LdapServer } from '../ldap/index.js';
import type { Endpoint } from './endpoints.js';
import { LISTENERS, limitsOf, startWorker, type ListenerName, type ToWorker, type Worker } from './directory-processes.js';

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
  /** The process ids serving LDAP: this one first, then the children (directory.processes). */
  pids: number[];
  close(graceMs?: number): Promise<void>;
}

// ---------------------------------------------------------------- the role

/**
 * The `directory` role: the VZD over LDAP, a plain listener offering StartTLS and an LDAPS
 * listener, both in front of the same DirectoryLdapBackend. Listeners on port 0 get ephemeral
 * ports; the actual ones are in `endpoints` (`ldap`, `ldaps`).
 *
 * With `directory.processes` > 1 this process also forks processes - 1 children. This process
 * keeps the listening sockets and accepts every connection; each goes, not yet read from, to
 * the process with the fewest open connections (this one included), which runs the whole
 * session, TLS included, against its own Directory (own warm index and cache, kept coherent
 * through dir_state.version like another node's). docs/directory.md, "Several processes".
 */
export async function startDirectory(config: Config, logger: Logger, parts: DirectoryRoleParts): Promise<RunningDirectory> {
  const dc = config.directory;
  const directory = parts.directory ?? new Directory(parts.store, directoryOptions(dc));
  const backend = new DirectoryLdapBackend(directory, parts.accounts);
  // A serving node keeps the hot equality keys and entries in memory (docs/directory.md, "Cache").
  directory.keepWarm();
  const warmStart = performance.now();
  // Every listener and client of this process takes the TI's TLS profile from config.tls.
  useTlsProfile(config.tls);
  useTlsResumption(config.tls.resumption);
  const tls = parts.tls ?? (await loadTlsMaterial(config, ['localhost', '127.0.0.1', '::1', config.service.hostname]));
  const throttle = parts.throttle ?? new LoginThrottle(config.service.loginThrottle);
  const metrics = parts.metrics ?? new Metrics();
  const vendorVersion = postamtVersion();
  const servers: Array<{ name: ListenerName; s: LdapServer }> = [];
  const endpoints: Record<string, Endpoint> = {};
  const limits = limitsOf(config);
  const workers: Worker[] = [];
  const ownConnections = (): number => servers.reduce((n, { s }) => n + s.sessionCount, 0);
  const workerConnections = (w: Worker): number => w.conns.ldap + w.conns.ldaps;
  const distribute =
    dc.processes > 1
      ? {
          // The connection limit is per listener, over all processes.
          active: (name: ListenerName) => (servers.find((x) => x.name === name)?.s.sessionCount ?? 0) + workers.reduce((n, w) => n + (w.alive ? w.conns[name] : 0), 0),
          handOff: (name: ListenerName, socket: Socket): boolean => {
            let best: Worker | undefined;
            let least = ownConnections();
            for (const w of workers) {
              if (w.alive && workerConnections(w) < least) {
                best = w;
                least = workerConnections(w);
              }
            }
            if (!best) return false;
            const w = best;
            w.conns[name]++;
            w.child.send({ type: 'conn', listener: name } satisfies ToWorker, socket, (err) => {
              if (!err) return;
              // The child went away meanwhile: the connection is lost with it (the client reconnects).
              w.conns[name]--;
              socket.destroy();
            });
            return true;
          },
        }
      : undefined;
  const closeWorkers = async (graceMs: number): Promise<void> => {
    for (const w of workers) if (w.alive && w.child.connected) w.child.send({ type: 'close', graceMs } satisfies ToWorker);
    await Promise.all(
      workers.map(async (w) => {
        const timer = setTimeout(() => w.child.kill('SIGKILL'), graceMs + 10_000);
        await w.exited;
        clearTimeout(timer);
      }),
    );
  };
  try {
    for (const [name, tlsMode] of LISTENERS) {
      const lc = name === 'ldap' ? dc.ldap.starttls : dc.ldap.implicit;
      if (!lc.enabled) continue;
      const s = new LdapServer({
        name,
        tlsMode,
        host: lc.host,
        port: lc.port,
        tls,
        backend,
        limits,
        logger,
        metrics,
        throttle,
        vendorVersion,
        ...(distribute ? { handOver: { active: () => distribute.active(name), handOff: (socket: Socket) => distribute.handOff(name, socket) } } : {}),
      });
      const a = await s.listen();
      servers.push({ name, s });
      endpoints[name] = { host: lc.host, port: a.port, tls: tlsMode };
    }
    for (let k = 1; k < dc.processes; k++) {
      workers.push(await startWorker(k, config, { cert: tls.cert, key: tls.key, ...(tls.ecc ? { ecc: { cert: tls.ecc.cert, key: tls.ecc.key } } : {}) }, servers.map((x) => x.name), vendorVersion, logger, metrics, throttle));
    }
  } catch (err) {
    await closeWorkers(0);
    await Promise.all(servers.map(({ s }) => s.close(0)));
    await directory.stopWarm();
    throw err;
  }
  void Promise.all([directory.warmed().then(() => directory.isWarm), ...workers.map((w) => w.warm)]).then(
    (warm) => {
      logger.info({ ms: Math.round(performance.now() - warmStart), warm: warm.every(Boolean), processes: dc.processes }, 'directory index and cache warm');
      // A milestone worth seeing now, not when the buffered log fills up. A flush while a
      // write is in progress does nothing, so flush again once that write is done.
      logger.flush(() => logger.flush());
    },
    () => undefined,
  );
  return {
    directory,
    endpoints,
    pids: [process.pid, ...workers.map((w) => w.pid)],
    close: async (graceMs = 0) => {
      await Promise.all([
        ...servers.map(({ name, s }) => s.close(graceMs).catch((err: unknown) => logger.warn({ listener: name, err: errorMessage(err) }, 'error while closing'))),
        closeWorkers(graceMs),
      ]);
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
