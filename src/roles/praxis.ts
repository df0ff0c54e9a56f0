import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { inDataDir, type Config } from '../config/index.js';
import { serverContextOptions, type Logger, type ServerPem } from '../core/index.js';
import { praxisApi } from '../http/praxis/index.js';
import { serveWebApp } from '../http/web-app.js';
import { Praxis, type Practice } from '../praxis/index.js';
import type { Endpoint } from './endpoints.js';

/**
 * The reference primary system's back end (docs/praxis.md): the Praxis domain over the client
 * module's SMTP/POP3 and the directory's LDAP, and its HTTP API on a listener of its own.
 */
export interface RunningPraxis {
  endpoints: Record<string, Endpoint>;
  url: string;
  praxis: Praxis;
  close(): Promise<void>;
}

/** The KIM user names of a configured practice (address#mta-host:port#Mandant#ClientSystem#Workplace). */
export function practiceFromConfig(p: Config['praxis']['practices'][number]): Practice {
  const tail = `#${p.mandant}#${p.clientSystem}#${p.workplace}`;
  return { address: p.address, smtpUser: `${p.address}#${p.smtpMta}${tail}`, pop3User: `${p.address}#${p.pop3Mta}${tail}` };
}

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));

/**
 * `parts.ca`: PEM certificates trusted for the client module and the directory when
 * `praxis.clientModule.ca` names none. `parts.tls`: the server certificate the listener uses off
 * loopback (TLS everywhere off loopback; a Secure session cookie needs HTTPS to come back).
 */
export async function startPraxis(config: Config, logger: Logger, parts: { ca?: string[]; tls?: ServerPem } = {}): Promise<RunningPraxis> {
  const pc = config.praxis;
  const offLoopback = !isLoopback(pc.http.host);
  if (offLoopback && !parts.tls) throw new Error(`praxis.http.host ${pc.http.host} is not loopback: the Praxis-Postfach needs a TLS certificate there`);
  const https = offLoopback ? parts.tls : undefined;
  const log = logger.child({ role: 'praxis' });
  const ca = pc.clientModule.ca.length ? pc.clientModule.ca.map((f) => readFileSync(inDataDir(config, f), 'utf8')) : parts.ca;
  const praxis = new Praxis({
    practices: pc.practices.map(practiceFromConfig),
    clientModule: { smtp: pc.clientModule.smtp, pop3: pc.clientModule.pop3, ...(ca ? { ca } : {}), timeoutMs: pc.clientModule.timeoutMs },
    directory: { ...pc.directory, ...(ca ? { ca } : {}) },
    limits: pc.limits,
    logger: log,
  });
  // Base64 grows by a third; the JSON around it and multipart headers get some room.
  const maxBodyBytes = Math.ceil((pc.limits.maxMessageBytes * 4) / 3) + 256 * 1024;
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024, connectionTimeout: 120_000, requestTimeout: 120_000, ...(https ? { https: serverContextOptions(https) } : {}) });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).type('application/problem+json').send({ type: 'about:blank', title: `no route for ${req.method} ${req.url.split('?')[0]}`, status: 404 });
  });
  // The browser UI (web/praxis, built into dist/web/praxis) at /praxis/, with the console's CSP and headers.
  await serveWebApp(app, 'praxis', { label: 'the Praxis-Postfach' });
  await app.register(praxisApi, {
    praxis,
    logger: log,
    session: pc.session,
    secureCookie: offLoopback,
    failureDelayMs: pc.login.failureDelayMs,
    throttle: pc.login.throttle,
    maxBodyBytes,
  });
  await app.listen({ host: pc.http.host, port: pc.http.port });
  const addr = app.server.address() as AddressInfo;
  const hostForUrl = pc.http.host.includes(':') ? `[${pc.http.host}]` : pc.http.host;
  const url = `${https ? 'https' : 'http'}://${hostForUrl}:${addr.port}/praxis/`;
  log.info({ url, practices: pc.practices.length }, 'Praxis-Postfach listening');
  return {
    endpoints: { praxis: { host: pc.http.host, port: addr.port, tls: https ? 'implicit' : 'none' } },
    url,
    praxis,
    close: () => app.close(),
  };
}
