import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listenOnLoopback } from './net.js';
import { tempDir } from './env.js';

/**
 * A folder for script agents that the account scripts run as (`nobody` when the tests run as
 * root, mailin.script.user) can read, unlike a private temp or data directory.
 */
export function scriptFolder(): { path: string; write(name: string, code: string): string; cleanup(): void } {
  const dir = tempDir('postamt-scripts-');
  chmodSync(dir.path, 0o755);
  return {
    path: dir.path,
    write: (name, code) => {
      const path = join(dir.path, name);
      writeFileSync(path, code, { mode: 0o644 });
      return path;
    },
    cleanup: dir.cleanup,
  };
}

export interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  json: Record<string, unknown>;
  at: number;
  /** The caller's port: the same one again means a kept-alive connection was reused. */
  remotePort: number;
}

export interface Receiver {
  url: string;
  port: number;
  calls: Received[];
  /** Resolves when `n` calls have arrived (fails after the deadline). */
  waitForCalls(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

type Answer = { status: number; body?: string | object; headers?: Record<string, string> } | 'hang';

/**
 * A third party's HTTP endpoint on loopback: records each call and answers with what `respond`
 * returns (it may inspect the call first, e.g. to look into the store before answering).
 */
export async function startReceiver(respond: (call: Received, n: number) => Answer | Promise<Answer>): Promise<Receiver> {
  const calls: Received[] = [];
  const events = new EventEmitter();
  const hanging = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(body) as Record<string, unknown>;
        } catch {
          /* not JSON: the test will see an empty object */
        }
        const call: Received = { headers: req.headers, body, json, at: Date.now(), remotePort: req.socket.remotePort ?? 0 };
        calls.push(call);
        const a = await respond(call, calls.length);
        if (a === 'hang') {
          hanging.add(res);
        } else {
          const text = a.body === undefined ? '' : typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
          res.writeHead(a.status, { 'content-type': typeof a.body === 'object' ? 'application/json' : 'text/plain', ...a.headers });
          res.end(text);
        }
        events.emit('call');
      })();
    });
  });
  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    calls,
    waitForCalls: async (n, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      while (calls.length < n) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${n} webhook calls, got ${calls.length}`);
        await Promise.race([once(events, 'call'), new Promise((r) => setTimeout(r, left).unref())]);
      }
    },
    close: async () => {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** What a receiver does with the signature (the README's snippet, written independently of src/). */
export function signatureValid(secret: string, call: Received): boolean {
  const ts = String(call.headers['x-postamt-timestamp'] ?? '');
  const sig = String(call.headers['x-postamt-signature'] ?? '');
  const expected = 'v1=' + createHmac('sha256', secret).update(`${ts}.${call.body}`).digest('hex');
  if (Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  return sig.length === expected.length && timingSafeEqual(Buffer.from(sig), Buffer.from(expected));
}
