import { createServer, type Server as HttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { timingSafeEqual } from 'node:crypto';
import * as soap from 'soap';
import { serverContextOptions, type Logger, type ServerPem } from '../core/index.js';
import type { SoftwareKonnektor } from '../crypto/index.js';
import { CardSlots, PIN_STATUSES, type PinStatus, type SimCard } from './cards.js';
import { faultEnvelope, soapFault, TelematikFault, TELEMATIK_ERRORS, type TelematikErrorCode } from './errors.js';
import { faultOf, Operations } from './operations.js';
import { connectorSds } from './sds.js';
import { serviceWsdl, wsdlPath, type ServiceName, type ServiceWsdl } from './wsdl.js';

export type SimClientAuth = { type: 'none' } | { type: 'basic'; user: string; password: string } | { type: 'certificate'; caPem: string };

export interface KonnektorSimOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: ServerPem;
  /** The cards and the cryptography (its `mandanten` are the simulator's). */
  readonly konnektor: SoftwareKonnektor;
  /** The Mandanten's ids and which cards they hold (the same list the Konnektor was built from). */
  readonly mandanten: ReadonlyArray<{ readonly id: string; readonly smcb?: unknown; readonly hba?: Readonly<Record<string, unknown>> }>;
  readonly trustAnchors: readonly Uint8Array[];
  /** AuthSignatureService absent: 7.4.1 (the only vendored version). */
  readonly serviceVersions: Readonly<Record<Exclude<ServiceName, 'AuthSignatureService'>, string>> & { readonly AuthSignatureService?: string };
  readonly delayMs: number;
  readonly maxRequestBytes: number;
  readonly requestTimeoutMs: number;
  readonly clientAuth: SimClientAuth;
  readonly productVersion: string;
  readonly logger: Logger;
}

const SERVICES: readonly ServiceName[] = ['EventService', 'CardService', 'CertificateService', 'SignatureService', 'EncryptionService', 'AuthSignatureService'];

/** The operations the simulator answers; any other operation of the WSDLs gets a 4000 fault. */
export const SIM_OPERATIONS = [
  'GetCards',
  'GetResourceInformation',
  'GetPinStatus',
  'VerifyPin',
  'ReadCardCertificate',
  'VerifyCertificate',
  'SignDocument',
  'ExternalAuthenticate',
  'VerifyDocument',
  'EncryptDocument',
  'DecryptDocument',
] as const;
export type SimOperation = (typeof SIM_OPERATIONS)[number];

/**
 * A Konnektor over the network: connector.sds and gematik's SOAP services (vendored WSDLs) over
 * HTTPS, backed by a SoftwareKonnektor's cards. For the SOAP Konnektor client's tests and demos.
 *
 * node-soap parses the requests against the WSDL and dispatches them, in its serverless form
 * (Server.processRequest): its `listen` on an http.Server reads every body whole without a
 * limit and answers a parse error with a plain-text stack, so the HTTP side — body limit (413),
 * slow-client timeouts, HTTP Basic, the delay, routing of connector.sds — is this class's, and
 * node-soap gets each request once it is complete and allowed.
 *
 * The test API (reinsertCard, setPinStatus, setDelay, failNext, calls) works on the running
 * object, not over the network.
 */
export class KonnektorSimulator {
  private readonly cards: CardSlots;
  private readonly ops: Operations;
  private readonly soapServers = new Map<string, soap.Server>();
  private readonly wsdls: ServiceWsdl[];
  private readonly counts = new Map<string, number>();
  private readonly failures = new Map<string, TelematikErrorCode[]>();
  private delayMs: number;
  private readonly versions: Readonly<Record<ServiceName, string>>;
  private server: HttpsServer | undefined;
  private address: { host: string; port: number } | undefined;

  constructor(private readonly opts: KonnektorSimOptions) {
    this.cards = new CardSlots(opts.mandanten);
    this.ops = new Operations({ konnektor: opts.konnektor, cards: this.cards, trustAnchors: opts.trustAnchors });
    this.versions = { AuthSignatureService: '7.4.1', ...opts.serviceVersions };
    this.wsdls = SERVICES.map((name) => serviceWsdl(name, this.versions[name]));
    this.delayMs = opts.delayMs;
  }

  /** Loads the WSDLs and listens; resolves with the bound address. */
  async start(): Promise<{ host: string; port: number }> {
    for (const w of this.wsdls) this.soapServers.set(w.path, await this.soapServer(w));
    const o = this.opts;
    const server = createServer({
      ...serverContextOptions(o.tls),
      ...(o.clientAuth.type === 'certificate' ? { requestCert: true, rejectUnauthorized: true, ca: o.clientAuth.caPem } : {}),
      // Slow clients: the whole request within requestTimeoutMs, the headers within at most a minute.
      requestTimeout: o.requestTimeoutMs,
      headersTimeout: Math.min(60_000, o.requestTimeoutMs),
    });
    server.on('request', (req, res) => this.handle(req, res));
    server.on('tlsClientError', (err) => o.logger.debug({ err: err.message }, 'konnektor-sim: TLS handshake failed'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.address = { host: o.host, port: (server.address() as AddressInfo).port };
    return this.address;
  }

  get baseUrl(): string {
    if (!this.address) throw new Error('the Konnektor simulator is not listening');
    const h = this.address.host.includes(':') ? `[${this.address.host}]` : this.address.host;
    return `https://${h}:${this.address.port}`;
  }

  get sdsUrl(): string {
    return `${this.baseUrl}/connector.sds`;
  }

  /** Each service's endpoint URL. */
  endpointOf(service: ServiceName): string {
    return `${this.baseUrl}${this.wsdls.find((w) => w.name === service)!.path}`;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  // ------------------------------------------------------------- test API

  /** Pulls and re-inserts the Mandant's SMC-B (or the HBA of `userId`): a new handle, the old one stale. Returns the new handle. */
  reinsertCard(mandantId: string, userId?: string): string {
    const card = this.cardOf(mandantId, userId);
    this.cards.reinsert(card);
    return card.handle;
  }

  setPinStatus(mandantId: string, status: PinStatus, userId?: string): void {
    if (!PIN_STATUSES.includes(status)) throw new Error(`unknown PIN status ${status}`);
    this.cardOf(mandantId, userId).pin = status;
  }

  /** The current handle of a card (what GetCards reports). */
  cardHandle(mandantId: string, userId?: string): string {
    return this.cardOf(mandantId, userId).handle;
  }

  setDelay(ms: number): void {
    this.delayMs = ms;
  }

  /** The next call of `operation` answers with this TelematikError instead (queued: several calls queue several faults). */
  failNext(operation: SimOperation, code: TelematikErrorCode): void {
    if (!(code in TELEMATIK_ERRORS)) throw new Error(`unknown TelematikError code ${code}`);
    const q = this.failures.get(operation) ?? [];
    q.push(code);
    this.failures.set(operation, q);
  }

  /** How often each operation was called (faults included). */
  calls(operation?: SimOperation): number {
    if (operation) return this.counts.get(operation) ?? 0;
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }

  private cardOf(mandantId: string, userId?: string): SimCard {
    const card = this.cards.find(mandantId, userId);
    if (!card) throw new Error(`no ${userId ? `HBA of ${userId}` : 'SMC-B'} at Mandant ${mandantId}`);
    return card;
  }

  // ------------------------------------------------------------- SOAP

  private async soapServer(w: ServiceWsdl): Promise<soap.Server> {
    const path = wsdlPath(w);
    const port = new Proxy({} as Record<string, unknown>, {
      get: (_t, name) => (typeof name === 'string' ? (args: Record<string, unknown>) => this.call(name, args ?? {}) : undefined),
    });
    return new Promise((resolve, reject) => {
      const server: soap.Server = soap.listen(null, {
        path: w.path,
        services: { [w.name]: { [`${w.name}Port`]: port } } as unknown as soap.IServices,
        xml: readFileSync(path, 'utf8'),
        uri: path,
        suppressStack: true,
        callback: (err: unknown) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(server)),
      });
    });
  }

  private async call(name: string, args: Record<string, unknown>): Promise<unknown> {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
    try {
      const queued = this.failures.get(name)?.shift();
      if (queued !== undefined) throw new TelematikFault(queued, 'failNext');
      const op = (SIM_OPERATIONS as readonly string[]).includes(name) ? (this.ops[name as SimOperation] as (a: Record<string, unknown>) => Promise<unknown>) : undefined;
      if (!op) throw new TelematikFault(4000, `the simulator does not offer ${name}`);
      return await op.call(this.ops, args);
    } catch (err) {
      const f = faultOf(err);
      this.opts.logger.debug({ operation: name, code: f.code, detail: f.detail }, 'konnektor-sim: fault');
      throw soapFault(f.code, f.detail);
    }
  }

  // ------------------------------------------------------------- HTTP

  private handle(req: IncomingMessage, res: ServerResponse): void {
    void this.answer(req, res).catch((err: unknown) => {
      this.opts.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'konnektor-sim: request failed');
      if (!res.headersSent) this.send(res, 500, faultEnvelope(4001));
      else res.destroy();
    });
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://konnektor');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (!this.authorised(req)) {
      req.resume();
      res.setHeader('WWW-Authenticate', 'Basic realm="konnektor-sim", charset="UTF-8"');
      return this.send(res, 401, 'authentication required\n', 'text/plain; charset=utf-8');
    }
    if (req.method === 'GET' && path === '/connector.sds') {
      await this.delay();
      return this.send(
        res,
        200,
        connectorSds({
          baseUrl: this.baseUrl,
          services: this.wsdls,
          versions: this.versions,
          clientAuthMandatory: this.opts.clientAuth.type !== 'none',
          productVersion: this.opts.productVersion,
        }),
        'application/xml; charset=utf-8',
      );
    }
    const soapServer = this.soapServers.get(path);
    if (req.method === 'GET' && soapServer && url.search.toLowerCase() === '?wsdl') {
      const w = this.wsdls.find((x) => x.path === path)!;
      return this.send(res, 200, readFileSync(wsdlPath(w), 'utf8'), 'application/xml; charset=utf-8');
    }
    if (!soapServer) {
      req.resume();
      return this.send(res, 404, 'not found\n', 'text/plain; charset=utf-8');
    }
    if (req.method !== 'POST') {
      req.resume();
      res.setHeader('Allow', 'POST');
      return this.send(res, 405, 'POST a SOAP request\n', 'text/plain; charset=utf-8');
    }
    const body = await this.readBody(req, res);
    if (body === undefined) return;
    await this.delay();
    const xml = body.toString('utf8');
    const out = await soapServer.processRequest(xml, { url: path, headers: req.headers as Record<string, string>, method: 'POST' });
    this.send(res, out.statusCode, this.asSoapFault(out.statusCode, out.body));
  }

  /**
   * node-soap answers what it cannot parse or dispatch (malformed XML, an element the WSDL does
   * not know) with plain text or a SOAP 1.2 style fault; the simulator answers as a Konnektor
   * does, a SOAP 1.1 fault with a TelematikError (4000, Syntaxfehler).
   */
  private asSoapFault(status: number, body: string): string {
    if (status < 400 || body.includes('<GERROR:Error')) return body;
    const reason = /<soap:Text>([\s\S]*?)<\/soap:Text>|<detail>([\s\S]*?)<\/detail>/.exec(body);
    const detail = (reason?.[1] ?? reason?.[2] ?? body).replace(/<[^>]*>/g, '').slice(0, 500);
    return faultEnvelope(4000, detail);
  }

  /**
   * The body, at most maxRequestBytes. Beyond that: 413 at once (undefined); the rest of the
   * body is read and dropped so the client sees the answer rather than a reset, and the
   * connection closes after it (requestTimeout bounds a client that keeps sending).
   */
  private readBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer | undefined> {
    const max = this.opts.maxRequestBytes;
    const tooLarge = (): void => {
      res.setHeader('Connection', 'close');
      this.send(res, 413, faultEnvelope(4000, `request larger than ${max} bytes`));
    };
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > max) {
      tooLarge();
      req.resume();
      return Promise.resolve(undefined);
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      req.on('data', (chunk: Buffer) => {
        if (over) return;
        size += chunk.length;
        if (size > max) {
          over = true;
          chunks.length = 0;
          tooLarge();
          resolve(undefined);
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => {
        if (!over) resolve(Buffer.concat(chunks, size));
      });
      req.on('error', reject);
    });
  }

  private authorised(req: IncomingMessage): boolean {
    const a = this.opts.clientAuth;
    if (a.type !== 'basic') return true;
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const given = Buffer.from(m[1]!, 'base64');
    const wanted = Buffer.from(`${a.user}:${a.password}`, 'utf8');
    return given.length === wanted.length && timingSafeEqual(given, wanted);
  }

  private async delay(): Promise<void> {
    if (this.delayMs > 0) await sleep(this.delayMs);
  }

  private send(res: ServerResponse, status: number, body: string, type = 'text/xml; charset=utf-8'): void {
    if (res.headersSent) return;
    res.statusCode = status;
    res.setHeader('Content-Type', type);
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.end(body);
  }
}
