import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { spawn } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { Accounts, type Account } from '../../src/service/accounts.js';
import { Mailboxes } from '../../src/service/mailboxes.js';
import { ServicePop3Backend } from '../../src/service/pop3-backend.js';
import { hashPassword } from '../../src/service/passwords.js';
import {
  Pop3Server,
  type Pop3Backend,
  type Pop3Limits,
  type Pop3LoginRequest,
  type Pop3LoginResult,
  type Pop3ServerOptions,
} from '../../src/pop3/index.js';
import { createSelfSignedTls, type PemPair } from '../../src/crypto/index.js';
import { Metrics, createLogger, silentLogger } from '../../src/core/index.js';
import { openTestStore, type StoreKind, type TestStore } from './env.js';

export const PASSWORD = 'correct horse battery';
export const ALICE = 'alice@test.local';
export const BOB = 'bob@test.local';

let accountSeq = 0;

let cheapHash: Promise<string> | undefined;
/**
 * Makes the account's password check cheap. These tests log in dozens of times, and at the
 * production scrypt cost (about 100 ms of CPU each) the logins would dominate the run. The
 * stored hash is replaced by one of the same password at the lowest cost verifyPassword
 * accepts (ln=10): the same code path with a 32 times cheaper parameter.
 */
async function cheapenPassword(ts: TestStore, account: Account): Promise<Account> {
  cheapHash ??= hashPassword(PASSWORD, { ln: 10, r: 8, p: 1 });
  await ts.store.db.updateTable('accounts').set({ password_hash: await cheapHash }).where('id', '=', account.id).execute();
  return account;
}
let tlsPair: Promise<PemPair> | undefined;
/** One self-signed pair per test process; generating it is the slow part of TLS setup. */
export function testTls(): Promise<PemPair> {
  tlsPair ??= createSelfSignedTls(['localhost', '127.0.0.1']);
  return tlsPair;
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

/**
 * A raw POP3 client for the tests that must send what no real client sends. Replies are read
 * line by line from the bytes received; every wait is on data or close events, never a timer.
 */
export class RawClient {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private ended = false;
  readonly closed: Promise<void>;

  private constructor(public socket: Socket | TLSSocket) {
    this.closed = new Promise((resolve) => {
      this.watch(socket);
      socket.once('close', () => resolve());
    });
  }

  static async open(port: number, opts: { tls?: boolean; host?: string } = {}): Promise<RawClient> {
    const host = opts.host ?? '127.0.0.1';
    const socket = opts.tls ? tlsConnect({ port, host, rejectUnauthorized: false }) : connect({ port, host });
    await once(socket, opts.tls ? 'secureConnect' : 'connect');
    return new RawClient(socket);
  }

  private watch(s: Socket): void {
    s.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    s.on('end', () => {
      this.ended = true;
      this.wake();
    });
    s.on('close', () => {
      this.ended = true;
      this.wake();
    });
    s.on('error', () => undefined);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** The next CRLF line without its CRLF; rejects if the connection ends first. */
  async line(): Promise<string> {
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const line = this.buf.subarray(0, i).toString('latin1');
        this.buf = this.buf.subarray(i + 2);
        return line;
      }
      if (this.ended) throw new Error(`connection closed; unread: ${JSON.stringify(this.buf.toString('latin1'))}`);
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  /** Sends a command and returns the first reply line. */
  async cmd(line: string): Promise<string> {
    this.send(`${line}\r\n`);
    return this.line();
  }

  /** The lines of a multi-line body up to the terminating ".", un-stuffed. */
  async body(): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const l = await this.line();
      if (l === '.') return out;
      out.push(l.startsWith('.') ? l.slice(1) : l);
    }
  }

  /** Everything the server still sends until it closes the connection. */
  async rest(): Promise<string> {
    await this.closed;
    const s = this.buf.toString('latin1');
    this.buf = Buffer.alloc(0);
    return s;
  }

  async login(user = ALICE, password = PASSWORD): Promise<void> {
    const u = await this.cmd(`USER ${user}`);
    const p = await this.cmd(`PASS ${password}`);
    if (!u.startsWith('+OK') || !p.startsWith('+OK')) throw new Error(`login failed: ${u} / ${p}`);
  }

  /** Switches this client to TLS over the same socket (after the server's +OK to STLS). */
  async startTls(): Promise<void> {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('end');
    const secure = tlsConnect({ socket: this.socket, rejectUnauthorized: false });
    await once(secure, 'secureConnect');
    this.socket = secure;
    this.watch(secure);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Runs a Python script (argv after the script: the given args) and parses its JSON stdout. */
export async function python<T>(script: string, args: (string | number)[]): Promise<T> {
  const { stdout, code, stderr } = await run('python3', ['-c', script, ...args.map(String)]);
  if (code !== 0) throw new Error(`python3 exited with ${code}: ${stderr}`);
  return JSON.parse(stdout) as T;
}

/** Runs a program to its end and collects its output as bytes and text. */
export async function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; raw: Buffer; stderr: string }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  const [code] = (await once(child, 'close')) as [number | null];
  const raw = Buffer.concat(out);
  return { code, stdout: raw.toString('utf8'), raw, stderr: Buffer.concat(err).toString('utf8') };
}
