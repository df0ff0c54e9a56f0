/**
 * smtp-server writes every reply on its own, so a pipelined MAIL, three RCPTs and DATA cost five
 * socket writes (five TLS records and syscalls, five wake-ups of the client) although all five
 * answers are known within one turn of the event loop. This corks the connection's socket at a
 * reply and uncorks it when the turn is over (setImmediate), so the replies of one turn leave in
 * one write, in order. 220 (greeting, STARTTLS) is never held: after it the socket changes hands.
 * A socket that ends flushes what it holds (Writable.end uncorks); one destroyed loses only what
 * a destroyed socket would lose anyway. Called before every reply by the `send` wrapper that
 * patches.ts installs.
 */
interface Corkable {
  destroyed: boolean;
  cork(): void;
  uncork(): void;
}

/** The connection's private fields this relies on (patches.ts checks `send` still uses them). */
export interface BatchedConnection {
  _socket?: Corkable;
  _upgrading?: boolean;
}

const held = new WeakSet<Corkable>();

/** Holds the connection's socket corked until the end of this turn, unless reply `code` must go at once. */
export function holdRepliesForTurn(connection: BatchedConnection, code: number): void {
  const socket = connection._socket;
  if (!socket || code === 220 || connection._upgrading || socket.destroyed || held.has(socket)) return;
  held.add(socket);
  socket.cork();
  setImmediate(() => {
    held.delete(socket);
    socket.uncork();
  });
}
