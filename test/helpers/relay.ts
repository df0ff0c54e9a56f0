import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { createSelfSignedTls } from '../../src/crypto/index.js';
import { silentLogger } from '../../src/core/index.js';
import { startService, type RunningService, type ServiceHooks } from '../../src/roles/index.js';
import type { SettledBatch } from '../../src/service/index.js';
import { deepMerge, tempDir, testConfig, testDatabase, type StoreKind } from './env.js';
import { addCheapAccounts } from './integration.js';

export const PASSWORD = 'Passw0rd!';

let peerTls: Promise<{ cert: string; key: string; dir: string }> | undefined;
/**
 * One certificate for every provider in these tests (127.0.0.1, localhost), as files: a
 * provider's relay can name it as its CA before the peer using it has started.
 */
export function peerCertificate(): Promise<{ cert: string; key: string; dir: string }> {
  peerTls ??= (async () => {
    const pair = await createSelfSignedTls(['localhost', '127.0.0.1']);
    const dir = tempDir('postamt-relay-tls-');
    const cert = join(dir.path, 'peer.crt');
    const key = join(dir.path, 'peer.key');
    writeFileSync(cert, pair.cert);
    writeFileSync(key, pair.key, { mode: 0o600 });
    process.once('exit', () => dir.cleanup());
    return { cert, key, dir: dir.path };
  })();
  return peerTls;
}

export interface Provider {
  svc: RunningService;
  domain: string;
  dir: string;
  /** Stops the service and starts it again on the same data directory and store (`raw` changes merged in). */
  restart(raw?: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

/**
 * A whole service role for one provider: its own store (SQLite or a fresh PostgreSQL database)
 * and data directory, domain `domain`, the given accounts (password PASSWORD), the shared test
 * certificate, mx.<domain> as its name.
 */
export async function startProvider(
  kind: StoreKind,
  domain: string,
  users: string[],
  raw: Record<string, unknown> = {},
  hooks: ServiceHooks = {},
): Promise<Provider | null> {
  const db = await testDatabase(kind);
  if (!db) return null;
  const { url, drop } = db;
  const dir = tempDir();
  const tls = await peerCertificate();
  const configFor = (extra: Record<string, unknown>) =>
    testConfig(dir.path, deepMerge({ database: { url }, tls: { cert: tls.cert, key: tls.key }, service: { hostname: `mx.${domain}`, relay: { worker: { pollIntervalMs: 100 } } } }, extra));
  let current = raw;
  const p: Provider = {
    svc: await startService(configFor(current), silentLogger(), undefined, hooks),
    domain,
    dir: dir.path,
    restart: async (more = {}) => {
      await p.svc.close();
      current = deepMerge(current, more);
      p.svc = await startService(configFor(current), silentLogger(), undefined, hooks);
    },
    close: async () => {
      await p.svc.close();
      await drop?.();
      dir.cleanup();
    },
  };
  await p.svc.accounts.addDomain(domain);
  await addCheapAccounts(
    p.svc,
    users.map((address) => ({ address })),
    PASSWORD,
  );
  return p;
}

/** A static route from one provider to another's MX listener (STARTTLS, the shared certificate trusted). */
export async function routeTo(peer: Provider | { port: number }, domain: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const port = 'svc' in peer ? peer.svc.endpoints['smtp-mx']!.port : peer.port;
  const { cert } = await peerCertificate();
  return { service: { relay: { routes: { [domain]: { host: '127.0.0.1', port, tls: 'starttls', ca: [cert], ...extra } } } } };
}

/**
 * Resolves with the next settled batch the provider's relay worker reports that `match`
 * accepts. Call before what causes it: the worker may settle before the submission returns.
 */
export function nextSettled(p: Provider, match: (s: SettledBatch) => boolean = () => true): Promise<SettledBatch> {
  const worker = p.svc.relay.worker;
  // One dispatcher per worker and a set of waiters: chaining onSettled wrappers would let a
  // waiter that resolves first unhook one installed after it (which then waits forever).
  let waiters = settledWaiters.get(worker);
  if (!waiters) {
    const set = new Set<(s: SettledBatch) => void>();
    waiters = set;
    settledWaiters.set(worker, set);
    const previous = worker.onSettled;
    worker.onSettled = (s) => {
      previous?.(s);
      for (const w of [...set]) w(s);
    };
  }
  const set = waiters;
  return new Promise((resolve) => {
    const waiter = (s: SettledBatch) => {
      if (!match(s)) return;
      set.delete(waiter);
      resolve(s);
    };
    set.add(waiter);
  });
}

const settledWaiters = new WeakMap<object, Set<(s: SettledBatch) => void>>();

/** Submits a message from `from` over the provider's submission listener (nodemailer, implicit TLS, AUTH as `user`, by default `from`). */
export function submit(
  p: Provider,
  from: string,
  to: string[],
  mail: { subject?: string; text?: string; user?: string } = {},
): Promise<{ response: string }> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: p.svc.endpoints['smtp-submission']!.port,
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user: mail.user ?? from, pass: PASSWORD },
  });
  return transport.sendMail({ from, to, subject: mail.subject ?? 'Befund', text: mail.text ?? 'Sehr geehrte Kollegin,\nanbei der Befund.\n' }) as Promise<{ response: string }>;
}

/** The messages in an account's mailbox, oldest first. */
export async function mailbox(p: Provider, address: string): Promise<string[]> {
  const acc = await p.svc.accounts.get(address);
  const entries = await p.svc.mailboxes.list(acc.id);
  return Promise.all(entries.map(async (e) => (await p.svc.mailboxes.read(e)).toString('utf8')));
}
