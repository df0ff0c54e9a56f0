import type { Logger } from '../core/index.js';
import { errorMessage } from '../core/index.js';
import type { TlsMode } from '../core/index.js';
import type { Endpoint } from './endpoints.js';

/** Something a role started and must stop: a listener, a worker, a timer. */
export interface Closable {
  close(graceMs?: number): Promise<void>;
}

/** A protocol server before it listens (SmtpListener, Pop3Server, LdapServer). */
export interface ListeningServer extends Closable {
  listen(): Promise<{ host: string; port: number }>;
}

/**
 * What a role has started, in order, with the endpoints its listeners got: every role starts
 * its listeners, records them and closes them the same way.
 */
export class RunningParts {
  readonly endpoints: Record<string, Endpoint> = {};
  private readonly parts: Array<{ name: string; part: Closable }> = [];

  add(name: string, part: Closable): void {
    this.parts.push({ name, part });
  }

  /** Starts a listener from its config entry (skipped when disabled) and records its endpoint. */
  async listen(name: string, lc: { enabled: boolean; host: string }, tlsMode: TlsMode, make: () => ListeningServer): Promise<void> {
    if (!lc.enabled) return;
    const server = make();
    const a = await server.listen();
    this.add(name, server);
    this.endpoints[name] = { host: lc.host, port: a.port, tls: tlsMode };
  }

  /** Shutdown: everything at once with `graceMs` each; a part that fails to close is logged, not thrown. */
  close(graceMs: number, logger: Logger): Promise<void> {
    return this.all((part) => part.close(graceMs), (name, err) => logger.warn({ listener: name, err: errorMessage(err) }, 'error while closing'));
  }

  /** A start that failed half-way: what was started is closed at once, errors ignored (the start's own error is the one to report). */
  abort(): Promise<void> {
    return this.all((part) => part.close(0), () => undefined);
  }

  private async all(close: (part: Closable) => Promise<void>, failed: (name: string, err: unknown) => void): Promise<void> {
    await Promise.all(this.parts.map(({ name, part }) => close(part).catch((err: unknown) => failed(name, err))));
  }
}
