import { createRequire } from 'node:module';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { SMTPServer } from 'smtp-server';
import { fastFeedDataStream, type FeedDataStream } from './data-stream.js';
import { holdRepliesForTurn, type BatchedConnection } from './reply-batching.js';
import { withOwnEnhancedCode } from './enhanced-codes.js';
import { heldInit } from './greeting-hold.js';

/**
 * Postamt changes four things inside smtp-server, through its private methods: every reply goes
 * through one `send` wrapper (reply-batching.ts, enhanced-codes.ts; it also tells server.ts each
 * reply's code, REPLY_SENT), the DATA intake is ours (data-stream.ts), and init() greets at
 * once or after the listener's greeting delay instead of after a fixed 100 ms (greeting-hold.ts). Two more it only relies on (server.ts): connect() registering the connection
 * in `connections` at once, the `_upgrading` flag during STARTTLS and `_socket`, the current socket (its client certificate). Private methods can change in any release, so package.json pins the exact
 * version below, and before patching `installSmtpServerPatches` checks that each method it
 * touches is still there with the arity and the code it relies on; otherwise it throws, at
 * start, naming what changed. Upgrading smtp-server means: read what changed in those methods,
 * adapt the patches, then the pin, this constant and the markers (test/smtp/patches.test.ts).
 */
export const SMTP_SERVER_VERSION = '3.21.6';

type Send = (this: unknown, code: number, data?: unknown, context?: unknown) => void;

/**
 * A connection may carry a function under this key: the send wrapper calls it with the code of
 * every reply it sent (server.ts: the command deadline restarts, error replies are counted).
 */
export const REPLY_SENT = Symbol.for('postamt.smtp-reply-sent');
type Watched = { [REPLY_SENT]?: (code: number) => void };

/** One private method a patch relies on: how many parameters it declares, what its code must contain, and why. */
interface Expectation {
  readonly name: string;
  readonly arity: number;
  readonly markers: readonly string[];
  readonly why: string;
}

const CONNECTION: readonly Expectation[] = [
  {
    name: 'send',
    arity: 3,
    markers: ['this._getEnhancedStatusCode(code, context)', 'this._socket.write(', 'this._upgrading'],
    why: 'wrapped: replies are corked per turn on _socket unless _upgrading; own enhanced codes pass context false',
  },
  { name: '_getEnhancedStatusCode', arity: 2, markers: ['context === false'], why: 'context false must mean "add no enhanced code"' },
  { name: 'handler_AUTH', arity: 2, markers: ["'Error: Unrecognized authentication type'"], why: 'its 504 text is answered with 5.7.4 instead' },
  {
    name: 'init',
    arity: 0,
    markers: ['this._setListeners(', 'this.connectionReady()', 'setTimeout('],
    why: 'replaced by greeting-hold.ts: _setListeners, then connectionReady at once or after the greeting delay',
  },
  {
    name: '_setListeners',
    arity: 1,
    markers: ['this._socket.pipe(this._parser)', 'return callback()'],
    why: 'called by greeting-hold.ts, which unpipes _parser from _socket while a greeting is held',
  },
  { name: 'connectionReady', arity: 1, markers: ['this._ready = true', 'this._sendGreeting()'], why: 'called by greeting-hold.ts to greet' },
  { name: 'close', arity: 0, markers: ['this._closing = true', 'this._socket.unpipe(this._parser)'], why: 'called by greeting-hold.ts after a pregreet refusal' },
  {
    name: 'upgrade',
    arity: 2,
    markers: ['this._upgrading = true', 'this._upgrading = false', 'this._socket = tlsSocket'],
    why: 'not patched, relied on: server.ts reads _upgrading at close to count a STARTTLS handshake cut short, and _socket (the TLSSocket after STARTTLS) for the client certificate',
  },
];

const SERVER: readonly Expectation[] = [
  {
    name: 'connect',
    arity: 2,
    markers: ['this.connections.add(connection)'],
    why: 'not patched, relied on: core/listener.ts accepts, connect() serves the socket and adds its connection to the set server.ts watches',
  },
];

const STREAM: readonly Expectation[] = [
  {
    name: '_feedDataStream',
    arity: 2,
    markers: ['this._lastBytes', 'this._atDataStart', 'this._dataStream', 'this._endDataMode(', 'this._countDataBytes(', "Buffer.from('.\\r\\n')"],
    why: 'replaced by data-stream.ts, which keeps its state in the same fields and falls back on it',
  },
  { name: '_write', arity: 3, markers: ['this._feedDataStream(chunk, done)'], why: 'must hand data-mode chunks to _feedDataStream' },
  { name: '_endDataMode', arity: 3, markers: ['this._dataStream = null'], why: 'called by data-stream.ts with (chunk, remainder, done)' },
  { name: '_countDataBytes', arity: 1, markers: ['this._atDataStart = false', 'this.dataBytes += len'], why: 'called by data-stream.ts for every byte emitted' },
];

/** smtp-server as the patches see it: its version and the library's own methods they touch. */
export interface SmtpServerInternals {
  readonly version: string;
  readonly connection: Readonly<Record<string, unknown>>;
  readonly stream: Readonly<Record<string, unknown>>;
  readonly server: Readonly<Record<string, unknown>>;
}

const INSTALLED = Symbol.for('postamt.smtp-server-patches');
type Marked = { [INSTALLED]?: SmtpServerInternals };
const connectionProto = SMTPConnection.prototype as unknown as Record<string, unknown> & Marked;
const streamProto = SMTPStream.prototype as unknown as Record<string, unknown>;
const serverProto = SMTPServer.prototype as unknown as Record<string, unknown>;

/** The installed smtp-server, with the library's own methods (also once they are patched). */
export function installedSmtpServer(): SmtpServerInternals {
  const installed = connectionProto[INSTALLED];
  if (installed) return installed;
  const pick = (proto: Record<string, unknown>, list: readonly Expectation[]) => Object.fromEntries(list.map((e) => [e.name, proto[e.name]]));
  const version = (createRequire(import.meta.url)('smtp-server/package.json') as { version?: unknown }).version;
  return { version: String(version), connection: pick(connectionProto, CONNECTION), stream: pick(streamProto, STREAM), server: pick(serverProto, SERVER) };
}

/** What does not match what the patches rely on; empty when they may be installed. */
export function smtpServerMismatches(lib: SmtpServerInternals): string[] {
  const problems: string[] = [];
  if (lib.version !== SMTP_SERVER_VERSION) problems.push(`smtp-server ${lib.version} is installed, the patches are written for ${SMTP_SERVER_VERSION}`);
  const check = (where: string, methods: Readonly<Record<string, unknown>>, list: readonly Expectation[]): void => {
    for (const e of list) {
      const fn = methods[e.name];
      const what = `${where}.prototype.${e.name} (${e.why})`;
      if (typeof fn !== 'function') {
        problems.push(`${what}: not a function`);
        continue;
      }
      if (fn.length !== e.arity) problems.push(`${what}: takes ${fn.length} parameters, expected ${e.arity}`);
      const source = Function.prototype.toString.call(fn);
      const missing = e.markers.filter((m) => !source.includes(m));
      if (missing.length) problems.push(`${what}: its code no longer contains ${missing.map((m) => JSON.stringify(m)).join(', ')}`);
    }
  };
  check('SMTPConnection', lib.connection, CONNECTION);
  check('SMTPStream', lib.stream, STREAM);
  check('SMTPServer', lib.server, SERVER);
  return problems;
}

/**
 * Installs the patches into smtp-server's prototypes, once per process (later calls do nothing).
 * Throws before changing anything when the installed smtp-server is not the one they are for.
 */
export function installSmtpServerPatches(): void {
  if (connectionProto[INSTALLED]) return;
  const lib = installedSmtpServer();
  const problems = smtpServerMismatches(lib);
  if (problems.length) {
    throw new Error(`smtp-server cannot be patched (Postamt relies on its private methods, see src/smtp/patches.ts):\n  ${problems.join('\n  ')}`);
  }
  const send = lib.connection.send as Send;
  connectionProto.send = function (this: BatchedConnection & Watched, code: number, data?: unknown, context?: unknown): void {
    holdRepliesForTurn(this, code);
    const [c, d, ctx] = withOwnEnhancedCode(code, data, context);
    send.call(this, c, d, ctx);
    this[REPLY_SENT]?.(c);
  };
  connectionProto.init = heldInit;
  streamProto._feedDataStream = fastFeedDataStream(lib.stream._feedDataStream as FeedDataStream);
  connectionProto[INSTALLED] = Object.freeze({ ...lib, connection: Object.freeze({ ...lib.connection }), stream: Object.freeze({ ...lib.stream }), server: Object.freeze({ ...lib.server }) });
}
