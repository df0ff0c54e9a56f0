import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Config } from '../config/index.js';
import { LoginThrottle, Metrics, createLogger, errorMessage, useTlsProfile, useTlsResumption, type Logger, type ServerPem } from '../core/index.js';
import { openStore, type Store } from '../store/index.js';
import { Directory, DirectoryLdapBackend, directoryOptions } from '../directory/index.js';
import { LdapServer } from '../ldap/index.js';
import { Accounts } from '../service/index.js';

// The directory role's extra processes (directory.processes > 1, docs/directory.md "Several
// processes"): the messages between parent and children, the parent's side of starting one,
// and the child's whole life. The role itself (roles/directory.ts) decides where connections go.

export const LISTENERS = [
  ['ldap', 'starttls'],
  ['ldaps', 'implicit'],
] as const;
export type ListenerName = (typeof LISTENERS)[number][0];

/** The connection limits and policies of config.directory, for LdapServer. */
export function limitsOf(config: Config): Omit<Config['directory'], 'ldap' | 'baseDn' | 'processes'> {
  const { ldap: _l, baseDn: _b, processes: _p, ...limits } = config.directory;
  return limits;
}

// ---------------------------------------------------------------- messages between the processes

/** Parent → child. */
export type ToWorker =
  | { type: 'start'; config: Config; worker: number; tls: ServerPem; listeners: ListenerName[]; vendorVersion: string }
  | { type: 'conn'; listener: ListenerName }
  | { type: 'close'; graceMs: number };

/** Child → parent. */
type FromWorker =
  | { type: 'ready' }
  | { type: 'warm'; warm: boolean }
  | { type: 'failed'; error: string }
  | { type: 'closed'; listener: ListenerName }
  | { type: 'metrics'; deltas: MetricDelta[] }
  | { type: 'loginFailure'; address: string };

interface MetricDelta {
  kind: 'counter' | 'gauge';
  name: string;
  labels: Record<string, string>;
  by: number;
}

const WORKER_FLAG = '--postamt-directory-worker';
/** How often a child reports its metric increments to the parent. */
const METRICS_EVERY_MS = 1000;
/** How long the parent waits for a child to start (open the store, bind its listeners' servers). */
const START_TIMEOUT_MS = 30_000;

/** A child's view of its parent's metrics: counted here and passed up, so /metrics shows every process. */
class ForwardingMetrics extends Metrics {
  private pending = new Map<string, MetricDelta>();

  override inc(name: string, labels: Record<string, string> = {}, by = 1, help = name): void {
    super.inc(name, labels, by, help);
    this.note('counter', name, labels, by);
  }

  override gauge(name: string, labels: Record<string, string>, by: number, help = name): void {
    super.gauge(name, labels, by, help);
    this.note('gauge', name, labels, by);
  }

  private note(kind: MetricDelta['kind'], name: string, labels: Record<string, string>, by: number): void {
    const key = `${kind}\0${name}\0${JSON.stringify(labels)}`;
    const d = this.pending.get(key);
    if (d) d.by += by;
    else this.pending.set(key, { kind, name, labels, by });
  }

  take(): MetricDelta[] {
    const out = [...this.pending.values()];
    this.pending = new Map();
    return out;
  }
}

/** A child's login throttle: failures count here and in the parent (where SMTP and POP3 see them). */
class ForwardingThrottle extends LoginThrottle {
  constructor(
    opts: ConstructorParameters<typeof LoginThrottle>[0],
    private readonly send: (m: FromWorker) => void,
  ) {
    super(opts);
  }

  override failure(address: string): number {
    this.send({ type: 'loginFailure', address });
    return super.failure(address);
  }
}

export interface Worker {
  child: ChildProcess;
  pid: number;
  /** Connections handed to it and not yet closed, per listener. */
  conns: Record<ListenerName, number>;
  alive: boolean;
  exited: Promise<void>;
  warm: Promise<boolean>;
}

/** Forks child `k` and waits until it serves (its store open, its sessions ready to adopt connections). */
export async function startWorker(
  k: number,
  config: Config,
  tls: ServerPem,
  listeners: ListenerName[],
  vendorVersion: string,
  logger: Logger,
  metrics: Metrics,
  throttle: LoginThrottle,
): Promise<Worker> {
  const child = fork(fileURLToPath(import.meta.url), [WORKER_FLAG], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  // 'close': exited and the IPC channel drained (its last metrics are in).
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let warmed: (warm: boolean) => void = () => undefined;
  const warm = new Promise<boolean>((resolve) => (warmed = resolve));
  const w: Worker = { child, pid: child.pid ?? 0, conns: { ldap: 0, ldaps: 0 }, alive: true, exited, warm };
  child.once('exit', (code, signal) => {
    w.alive = false;
    warmed(false);
    logger.info({ worker: k, pid: w.pid, code, signal }, 'directory process exited');
  });
  child.on('error', (err) => logger.warn({ worker: k, err: errorMessage(err) }, 'directory process error'));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`directory process ${k} did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`directory process ${k} exited with ${code} while starting`));
    });
    child.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'ready':
          clearTimeout(timer);
          resolve();
          return;
        case 'failed':
          clearTimeout(timer);
          reject(new Error(`directory process ${k}: ${m.error}`));
          return;
        case 'warm':
          warmed(m.warm);
          return;
        case 'closed':
          w.conns[m.listener]--;
          return;
        case 'metrics':
          for (const d of m.deltas) {
            if (d.kind === 'counter') metrics.inc(d.name, d.labels, d.by);
            else metrics.gauge(d.name, d.labels, d.by);
          }
          return;
        case 'loginFailure':
          throttle.failure(m.address);
          return;
      }
    });
  });
  child.send({ type: 'start', config, worker: k, tls, listeners, vendorVersion } satisfies ToWorker);
  try {
    await ready;
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
  logger.info({ worker: k, pid: w.pid }, 'directory process started');
  return w;
}

// ---------------------------------------------------------------- a child process

/**
 * A child of startDirectory (directory.processes > 1): its own store connection, Directory
 * (warm index and cache) and accounts for binds, and LdapServers that never listen but run
 * the sessions of the connections the parent passes. It ends when the parent says so or goes.
 */
async function runWorker(): Promise<void> {
  const send = (m: FromWorker): void => {
    if (process.connected) process.send!(m);
  };
  const start = await new Promise<ToWorker & { type: 'start' }>((resolve) => {
    const first = (m: ToWorker): void => {
      if (m.type !== 'start') return;
      process.off('message', first);
      resolve(m);
    };
    process.on('message', first);
  });
  const { config } = start;
  // The parent decides when this process ends (Ctrl-C reaches the whole process group).
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => undefined);
  const logger = createLogger(config.log.level, 'async-stdout').child({ worker: start.worker });
  let store: Store;
  try {
    store = await openStore(config);
  } catch (err) {
    send({ type: 'failed', error: errorMessage(err) });
    process.disconnect();
    return;
  }
  const directory = new Directory(store, directoryOptions(config.directory));
  const backend = new DirectoryLdapBackend(directory, new Accounts(store.db, store.blobs));
  directory.keepWarm();
  const metrics = new ForwardingMetrics();
  const throttle = new ForwardingThrottle(config.service.loginThrottle, send);
  const limits = limitsOf(config);
  // The parent's TLS profile, from the same config.
  useTlsProfile(config.tls);
  useTlsResumption(config.tls.resumption);
  const servers = new Map<ListenerName, LdapServer>();
  for (const [name, tlsMode] of LISTENERS) {
    if (!start.listeners.includes(name)) continue;
    servers.set(name, new LdapServer({ name, tlsMode, tls: start.tls, backend, limits, logger, metrics, throttle, vendorVersion: start.vendorVersion }));
  }
  const flushMetrics = (): void => {
    const deltas = metrics.take();
    if (deltas.length) send({ type: 'metrics', deltas });
  };
  const timer = setInterval(flushMetrics, METRICS_EVERY_MS);
  let closing: Promise<void> | undefined;
  const close = (graceMs: number): Promise<void> =>
    (closing ??= (async () => {
      clearInterval(timer);
      await Promise.all([...servers.values()].map((s) => s.close(graceMs).catch(() => undefined)));
      await directory.stopWarm();
      await store.close().catch(() => undefined);
      // exit() flushes the buffered log (createLogger's exit hook) and ends what still holds the loop.
      const deltas = metrics.take();
      if (process.connected && deltas.length) process.send!({ type: 'metrics', deltas } satisfies FromWorker, () => process.exit(0));
      else process.exit(0);
    })());
  process.on('message', (m: ToWorker, handle: unknown) => {
    if (m.type === 'conn') {
      const socket = handle as Socket | undefined;
      const server = servers.get(m.listener);
      if (!socket || !server || closing) {
        socket?.destroy();
        send({ type: 'closed', listener: m.listener });
        return;
      }
      socket.once('close', () => send({ type: 'closed', listener: m.listener }));
      server.adopt(socket);
    } else if (m.type === 'close') void close(m.graceMs);
  });
  // The parent died or closed the channel: stop serving.
  process.once('disconnect', () => void close(0));
  send({ type: 'ready' });
  void directory.warmed().then(
    () => send({ type: 'warm', warm: directory.isWarm }),
    () => send({ type: 'warm', warm: false }),
  );
}

if (process.argv.includes(WORKER_FLAG) && process.send !== undefined && process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void runWorker().catch((err: unknown) => {
    process.stderr.write(`directory process failed: ${errorMessage(err)}\n`);
    process.exit(1);
  });
}
