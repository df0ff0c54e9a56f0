import { createHash } from 'node:crypto';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

// Another provider's MX as the relay meets it, written with smtp-server directly (not our
// listener): it records which node (by the name in its EHLO) delivered which message, and can
// hold a transaction open after the data to keep a node's relay rows leased.

export interface SinkDelivery {
  messageId: string;
  helo: string;
  at: number;
  /** The data as received (dots unstuffed): its length and SHA-256. */
  size: number;
  sha256: string;
}

export interface RelaySink {
  port: number;
  /** Transactions answered 250, in order. */
  delivered: SinkDelivery[];
  /** Transactions whose data arrived and that were never answered (held). */
  held: SinkDelivery[];
  /** Deliveries from a node with this EHLO name are held instead of answered. */
  holdHelo: string | undefined;
  /** While true, every RCPT gets 451 (the relay defers and retries). */
  tempfail: boolean;
  /** How many times each Message-ID got 250. */
  count(messageId: string): number;
  close(): Promise<void>;
}

/** Listens on `port` (0: any free one); a given port plays a peer that was down and is back. */
export async function startRelaySink(port = 0): Promise<RelaySink> {
  const pending: Array<(err?: Error) => void> = [];
  const sink: RelaySink = {
    port: 0,
    delivered: [],
    held: [],
    holdHelo: undefined,
    tempfail: false,
    count: (id) => sink.delivered.filter((d) => d.messageId === id).length,
    close: async () => {
      // Held transactions end with a temporary failure, so the server can close.
      for (const answer of pending.splice(0)) answer(Object.assign(new Error('closing'), { responseCode: 421 }));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    closeTimeout: 1000,
    size: 1024 * 1024 * 1024,
    onRcptTo(_address, _session, callback: (err?: Error | null) => void) {
      callback(sink.tempfail ? Object.assign(new Error('try again later'), { responseCode: 451 }) : null);
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null) => void) {
      // Only the start is kept (for the Message-ID) and the rest hashed: a large message is
      // not held by the test process, whose memory the streaming tests measure.
      let head = Buffer.alloc(0);
      let size = 0;
      const hash = createHash('sha256');
      stream.on('data', (c: Buffer) => {
        if (head.length < 64 * 1024) head = Buffer.concat([head, c.subarray(0, 64 * 1024 - head.length)]);
        size += c.length;
        hash.update(c);
      });
      stream.on('end', () => {
        const text = head.toString('latin1');
        const messageId = /^Message-ID:\s*(<[^>]+>)/im.exec(text)?.[1] ?? '?';
        const d = { messageId, helo: session.hostNameAppearsAs, at: Date.now(), size, sha256: hash.digest('hex') };
        if (sink.holdHelo !== undefined && d.helo === sink.holdHelo) {
          sink.held.push(d);
          pending.push(callback);
          return;
        }
        sink.delivered.push(d);
        callback();
      });
    },
  });
  server.listen(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.server.once('listening', () => resolve());
    server.server.once('error', reject);
  });
  sink.port = (server.server.address() as { port: number }).port;
  return sink;
}
