import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';

/**
 * smtp-server's init() holds every greeting back 100 ms to catch clients that talk first; a
 * connection per message pays that every time. patches.ts replaces init() with `heldInit`:
 * the greeting goes at once, unless server.ts put a GreetingHold on the socket (greeting-gate.ts
 * decides whom), and then a client that sends anything before the greeting is refused and
 * closed, as postscreen's pregreet test does, instead of smtp-server's "421 You talk too soon".
 */
export interface GreetingHold {
  delayMs: number;
  /** The client waited without talking; the greeting follows. */
  passed(): void;
  /** The client talked first; it is refused with `refusal` (a text with its enhanced code) and closed. */
  pregreeted(): void;
  refusal: string;
}

export const GREETING_HOLD = Symbol.for('postamt.smtp-greeting-hold');

/** The private fields and methods of smtp-server's connection this relies on (patches.ts checks them). */
export interface HeldConnection {
  _socket: Socket & { [GREETING_HOLD]?: GreetingHold };
  _parser: Writable | false;
  _closing: boolean;
  _closed: boolean;
  _setListeners(callback: () => void): void;
  connectionReady(): void;
  send(code: number, data?: unknown, context?: unknown): void;
  close(): void;
}

/**
 * init() without the fixed delay. smtp-server's own also checks its maxClients, which Postamt
 * never sets: core/listener.ts holds the connection limits before a session exists.
 */
export function heldInit(this: HeldConnection): void {
  this._setListeners(() => {
    const hold = this._socket[GREETING_HOLD];
    if (hold === undefined || hold.delayMs <= 0) this.connectionReady();
    else holdGreeting(this, hold);
  });
}

function holdGreeting(c: HeldConnection, hold: GreetingHold): void {
  const socket = c._socket;
  const parser = c._parser;
  // What arrives before the greeting must not reach the command parser, which would answer it
  // on its own: the socket is unpiped (and read here) until the greeting.
  if (parser) socket.unpipe(parser);
  const done = (): void => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', done);
  };
  const onData = (): void => {
    done();
    hold.pregreeted();
    c.send(554, hold.refusal, false);
    c.close();
  };
  const timer = setTimeout(() => {
    done();
    if (c._closing || c._closed || socket.destroyed) return;
    hold.passed();
    if (parser) socket.pipe(parser);
    c.connectionReady();
  }, hold.delayMs);
  // A client waiting for its greeting does not keep the process alive (smtp-server's timer did not either).
  timer.unref();
  socket.on('data', onData);
  socket.once('close', done);
  socket.resume();
}
