import { EventEmitter } from 'node:events';
import { Accounts, type Account } from '../../src/service/accounts.js';
import { Mailboxes } from '../../src/service/mailboxes.js';
import { ServicePop3Backend } from '../../src/service/pop3-backend.js';
import {
  Pop3Server,
  type Pop3Backend,
  type Pop3Limits,
  type Pop3LoginRequest,
  type Pop3LoginResult,
  type Pop3ServerOptions,
} from '../../src/pop3/index.js';
import { Metrics, createLogger, silentLogger } from '../../src/core/index.js';
import { cheapPasswordHash, openTestStore, testTls, type StoreKind, type TestStore } from './env.js';

export const PASSWORD = 'correct horse battery';
export const ALICE = 'alice@test.local';
export const BOB = 'bob@test.local';

let accountSeq = 0;

/** Gives the account a cheap hash of PASSWORD (see cheapPasswordHash): these tests log in dozens of times. */
async function cheapenPassword(ts: TestStore, account: Account): Promise<Account> {
  await ts.store.db.updateTable('accounts').set({ password_hash: await cheapPasswordHash(PASSWORD) }).where('id', '=', account.id).execute();
  return account;
}

/**
 * The real service backend, watched: emits `login`, `commit` (with the deleted indexes) and
 * `release` for every maildrop, so tests wait on what the server did instead of on time.
 * hold(user) keeps that user's logins waiting until the returned function is called (to catch
 * the server in the middle of a command); other users are not affected.
 */
export class WatchedBackend extends EventEmitter implements Pop3Backend {
  private readonly gates = new Map<string, Promise<void>>();

  constructor(private readonly inner: Pop3Backend) {
    super();
  }

  hold(user: string): () => void {
    let open!: () => void;
    this.gates.set(user, new Promise((resolve) => (open = resolve)));
    return () => {
      this.gates.delete(user);
      open();
    };
  }

  async login(req: Pop3LoginRequest): Promise<Pop3LoginResult> {
    this.emit('login', req);
    await this.gates.get(req.user);
    const res = await this.inner.login(req);
    if (!res.ok) return res;
    const md = res.maildrop;
    return {
      ...res,
      maildrop: {
        messages: md.messages,
        retrieve: (i) => md.retrieve(i),
        commit: async (deleted) => {
          await md.commit(deleted);
          this.emit('commit', res.account, deleted);
        },
        release: async () => {
          await md.release();
          this.emit('release', res.account);
        },
      },
    };
  }

  /** Resolves when a maildrop of `account` is released (the end of its session). */
  released(account: string): Promise<void> {
    return new Promise((resolve) => {
      const on = (a: string): void => {
        if (a !== account) return;
        this.off('release', on);
        resolve();
      };
      this.on('release', on);
    });
  }
}

export interface Pop3Fixture {
  ts: TestStore;
  accounts: Accounts;
  mailboxes: Mailboxes;
  alice: Account;
  bob: Account;
  metrics: Metrics;
  backend: WatchedBackend;
  plain: Pop3Server;
  plainPort: number;
  implicit: Pop3Server;
  implicitPort: number;
  /** Another listener over the same backend with other limits; closed with the fixture. */
  server(tlsMode: 'starttls' | 'implicit', limits: Partial<Pop3Limits>, extra?: Partial<Pop3ServerOptions>): Promise<{ server: Pop3Server; port: number }>;
  /** A fresh account with its own empty mailbox, so tests sharing a fixture do not collide. */
  account(): Promise<Account>;
  /** Files a message into the account's mailbox; returns the new row id. */
  deliver(account: Account, raw: Buffer | string): Promise<number>;
  /** The mailbox as the store sees it now. */
  uids(account: Account): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * A real store (SQLite or PostgreSQL) with domain test.local, accounts alice and bob, and a
 * plain (STLS) and an implicit-TLS POP3 listener over the service backend.
 */
export async function pop3Fixture(
  kind: StoreKind,
  limits: Partial<Pop3Limits> = {},
  extra: Partial<Pop3ServerOptions> = {},
): Promise<Pop3Fixture | null> {
  const ts = await openTestStore(kind);
  if (!ts) return null;
  const accounts = new Accounts(ts.store.db, ts.store.blobs);
  const mailboxes = new Mailboxes(ts.store.db, ts.store.blobs);
  await accounts.addDomain('test.local');
  const add = async (address: string): Promise<Account> => cheapenPassword(ts, await accounts.add({ address, password: PASSWORD }));
  const [alice, bob] = await Promise.all([add(ALICE), add(BOB)]);
  const metrics = new Metrics();
  const backend = new WatchedBackend(new ServicePop3Backend(accounts, mailboxes));
  const common = {
    backend,
    hostname: 'pop.test.local',
    tls: await testTls(),
    limits: { authFailureDelayMs: 20, ...limits },
    // POSTAMT_TEST_POP3_LOG=debug shows the servers' logs on stderr when a test needs explaining.
    logger: process.env.POSTAMT_TEST_POP3_LOG ? createLogger(process.env.POSTAMT_TEST_POP3_LOG, process.stderr) : silentLogger(),
    metrics,
    ...extra,
  };
  const plain = new Pop3Server({ ...common, tlsMode: 'starttls', name: 'plain' });
  const implicit = new Pop3Server({ ...common, tlsMode: 'implicit', name: 'implicit' });
  const [p, i] = await Promise.all([plain.listen(), implicit.listen()]);
  const extraServers: Pop3Server[] = [];
  return {
    ts,
    accounts,
    mailboxes,
    alice,
    bob,
    metrics,
    backend,
    plain,
    plainPort: p.port,
    implicit,
    implicitPort: i.port,
    async server(tlsMode, more, opts = {}) {
      const server = new Pop3Server({ ...common, limits: { ...common.limits, ...more }, ...opts, tlsMode });
      extraServers.push(server);
      const { port } = await server.listen();
      return { server, port };
    },
    account: async () => cheapenPassword(ts, await accounts.add({ address: `user${++accountSeq}@test.local`, password: PASSWORD })),
    async deliver(account, raw) {
      const w = await ts.store.blobs.writer();
      await w.write(Buffer.isBuffer(raw) ? raw : Buffer.from(raw));
      const [id] = await mailboxes.file(await w.commit(), [account.id]);
      return id!;
    },
    async uids(account) {
      return (await mailboxes.list(account.id)).map((e) => e.uid);
    },
    async close() {
      await Promise.all([plain, implicit, ...extraServers].map((s) => s.close(0)));
      await ts.close();
    },
  };
}
