import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

/**
 * smtp-server writes every reply on its own, so a pipelined MAIL, three RCPTs and DATA cost five
 * socket writes (five TLS records and syscalls, five wake-ups of the client) although all five
 * answers are known within one turn of the event loop. This corks the connection's socket at a
 * reply and uncorks it when the turn is over (setImmediate), so the replies of one turn leave in
 * one write, in order. 220 (greeting, STARTTLS) is never held: after it the socket changes hands.
 * A socket that ends flushes what it holds (Writable.end uncorks); one destroyed loses only what
 * a destroyed socket would lose anyway.
 */
type Send = (this: unknown, code: number, data: unknown, context?: unknown) => void;
interface Corkable {
  destroyed: boolean;
  cork(): void;
  uncork(): void;
}
const proto = SMTPConnection.prototype as unknown as { send: Send; __postamtBatched?: boolean };
const held = new WeakSet<Corkable>();

if (!proto.__postamtBatched) {
  const inner = proto.send;
  proto.send = function (this: { _socket?: Corkable; _upgrading?: boolean }, code, data, context) {
    const socket = this._socket;
    if (socket && code !== 220 && !this._upgrading && !socket.destroyed && !held.has(socket)) {
      held.add(socket);
      socket.cork();
      setImmediate(() => {
        held.delete(socket);
        socket.uncork();
      });
    }
    return inner.call(this, code, data, context);
  } as Send;
  proto.__postamtBatched = true;
}
