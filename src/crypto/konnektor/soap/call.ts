import { request as httpsRequest, type Agent } from 'node:https';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import * as soap from 'soap';
import { KonnektorError } from '../errors.js';
import { faultOf, parseEnvelope } from './faults.js';
import type { ChosenService } from './sds.js';
import { authHeaders, describeNetworkError, type SoapTransportOptions } from './transport.js';
import type { XmlElement } from './xml.js';

/** The vendored WSDLs: from the repository (dist/src/crypto/konnektor/soap → repository root), never from outside it. */
export const WSDL_DIR = fileURLToPath(new URL('../../../../../vendor/gematik/api-telematik/conn/', import.meta.url));

/** Where one call's raw answer lands: node-soap parses too, but we read the envelope ourselves. */
interface Sink {
  status?: number;
  body?: string;
  error?: unknown;
}

interface CallOptions {
  readonly sink: Sink;
  readonly timeoutMs: number;
}

/**
 * node-soap's HTTP client replaced by ours: the Konnektor's agent (TLS, pins, client
 * certificate), one deadline for the whole exchange, a bound on the answer, no redirects and no
 * proxy. Every status is handed back with its body, for the fault parsing to judge.
 */
class KonnektorHttpClient {
  constructor(
    private readonly agent: Agent,
    private readonly opts: SoapTransportOptions,
  ) {}

  request(rurl: string, data: string, callback: (err: unknown, res?: unknown, body?: string) => void, exheaders: Record<string, string>, exoptions: CallOptions): void {
    const sink = exoptions.sink;
    const done = (err: unknown, status?: number, body?: string): void => {
      sink.status = status;
      sink.body = body;
      sink.error = err;
      if (err) callback(err);
      else callback(null, { status, statusCode: status, headers: {}, data: body }, body);
    };
    const payload = Buffer.from(data, 'utf8');
    const req = httpsRequest(
      rurl,
      {
        method: 'POST',
        agent: this.agent,
        signal: AbortSignal.timeout(exoptions.timeoutMs),
        headers: { ...exheaders, 'Content-Type': exheaders['Content-Type'] ?? 'text/xml; charset=utf-8', 'Content-Length': payload.length, ...authHeaders(this.opts) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let over = false;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > this.opts.maxResponseBytes) {
            over = true;
            req.destroy();
            done(new KonnektorError('unavailable', `the answer is larger than konnektor.soap.maxResponseBytes (${this.opts.maxResponseBytes} bytes)`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          if (!over) done(null, res.statusCode, Buffer.concat(chunks).toString('utf8'));
        });
        res.on('error', (err) => {
          if (!over) done(err);
        });
      },
    );
    req.on('error', (err) => {
      if (sink.status === undefined && sink.error === undefined) done(err);
    });
    req.end(payload);
  }
}

/** node-soap clients per WSDL file and endpoint (loading a WSDL with its schemas takes a while). */
export class SoapCaller {
  private readonly clients = new Map<string, Promise<soap.Client>>();
  private readonly http: KonnektorHttpClient;

  constructor(
    agent: Agent,
    private readonly opts: SoapTransportOptions,
  ) {
    this.http = new KonnektorHttpClient(agent, opts);
  }

  private client(svc: ChosenService): Promise<soap.Client> {
    const key = `${svc.wsdlFile} ${svc.endpoint}`;
    let c = this.clients.get(key);
    if (!c) {
      c = soap.createClientAsync(join(WSDL_DIR, svc.wsdlFile), { endpoint: svc.endpoint, httpClient: this.http as unknown as soap.HttpClient });
      this.clients.set(key, c);
      c.catch(() => this.clients.delete(key));
    }
    return c;
  }

  /**
   * One operation: `body` is the SOAP Body's child, made by requests.ts. Resolves with the
   * answer's Body child; rejects with a KonnektorError (faults mapped, transport `unavailable`).
   */
  async call(svc: ChosenService, operation: string, body: string, timeoutMs = this.opts.timeoutMs): Promise<XmlElement> {
    const client = await this.client(svc);
    const fn = (client as unknown as Record<string, unknown>)[`${operation}Async`] as ((args: unknown, options: CallOptions) => Promise<unknown>) | undefined;
    if (typeof fn !== 'function') throw new KonnektorError('unavailable', `${svc.name} ${svc.wsdlVersion} has no operation ${operation}`);
    const sink: Sink = {};
    try {
      await fn.call(client, { _xml: body }, { sink, timeoutMs });
    } catch {
      // Judged below from what came over the wire; node-soap's own reading is not needed.
    }
    if (sink.body === undefined) {
      if (sink.error instanceof KonnektorError) throw sink.error;
      throw new KonnektorNetworkError(`Konnektor ${operation}: ${describeNetworkError(sink.error)}`, sink.error);
    }
    if (sink.status === 401 || sink.status === 403) throw new KonnektorError('unavailable', `Konnektor ${operation}: HTTP ${sink.status} (client credentials refused: konnektor.soap.basicAuth or tls.clientP12)`);
    const env = parseEnvelope(sink.body, operation);
    const fault = faultOf(env, operation);
    if (fault) throw fault;
    if (sink.status !== 200) throw new KonnektorError('unavailable', `Konnektor ${operation}: HTTP ${sink.status ?? '?'}`);
    const answer = env.children.find((c) => c.name === 'Body')?.children[0];
    if (!answer) throw new KonnektorError('unavailable', `Konnektor ${operation}: empty SOAP body`);
    return answer;
  }
}

/** The request or its answer was lost on the way (refused, reset, timed out): a retry may help, for idempotent calls. */
export class KonnektorNetworkError extends KonnektorError {
  constructor(message: string, cause: unknown) {
    super('unavailable', message, { cause });
  }
}
