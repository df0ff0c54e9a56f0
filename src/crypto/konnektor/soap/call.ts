import { request as httpsRequest, type Agent } from 'node:https';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { KonnektorError } from '../errors.js';
import { faultOf, parseEnvelope } from './faults.js';
import type { ChosenService } from './sds.js';
import { authHeaders, describeNetworkError, type SoapTransportOptions } from './transport.js';
import { parseXml, type XmlElement } from './xml.js';

/** The vendored WSDLs: from the repository (dist/src/crypto/konnektor/soap → repository root), never from outside it. */
export const WSDL_DIR = fileURLToPath(new URL('../../../../../vendor/gematik/api-telematik/conn/', import.meta.url));

const SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/';
const WSDL_SOAP = 'http://schemas.xmlsoap.org/wsdl/soap/';

/**
 * The SOAPAction of every operation of a WSDL's SOAP 1.1 binding (`soap:operation soapAction`).
 *
 * Why not node-soap's client: it parses every answer into objects after we have it (for a
 * SignDocument or EncryptDocument answer of a 100 KB message ~190 KB of base64 text), which
 * cost the client module ~16 ms of CPU per message sent — more than all the rest of the send
 * path — and its objects drop the namespaces the fault and answer readers need. The bodies are
 * written by requests.ts and checked against gematik's XSDs in the tests; what the WSDL adds is
 * the SOAPAction, read here, and the endpoint and version, from connector.sds (sds.ts).
 */
export function soapActions(wsdlFile: string): Map<string, string> {
  const root = parseXml(readFileSync(join(WSDL_DIR, wsdlFile), 'utf8'));
  const out = new Map<string, string>();
  for (const binding of root.children.filter((c) => c.name === 'binding')) {
    for (const op of binding.children.filter((c) => c.name === 'operation')) {
      const action = op.children.find((c) => c.name === 'operation' && c.ns === WSDL_SOAP)?.attrs['soapAction'];
      if (op.attrs['name'] && action !== undefined) out.set(op.attrs['name'], action);
    }
  }
  return out;
}

const STALE_SOCKET_ATTEMPTS = 4;

/** The reused keep-alive socket was closed by the other side before it read our request. */
class StaleSocketError extends Error {
  constructor(readonly original: Error) {
    super(original.message);
  }
}

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** One SOAP call per service: the envelope around requests.ts's body, the Konnektor's agent, one deadline, a bound on the answer. */
export class SoapCaller {
  private readonly actions = new Map<string, Map<string, string>>();

  constructor(
    private readonly agent: Agent,
    private readonly opts: SoapTransportOptions,
  ) {}

  private action(svc: ChosenService, operation: string): string {
    let a = this.actions.get(svc.wsdlFile);
    if (!a) {
      a = soapActions(svc.wsdlFile);
      this.actions.set(svc.wsdlFile, a);
    }
    const action = a.get(operation);
    if (action === undefined) throw new KonnektorError('unavailable', `${svc.name} ${svc.wsdlVersion} has no operation ${operation}`);
    return action;
  }

  /** POSTs the envelope; no redirects, no proxy; every status comes back with its body, for the fault parsing to judge. */
  private async post(url: string, action: string, envelope: string, timeoutMs: number): Promise<Answer> {
    const payload = Buffer.from(envelope, 'utf8');
    // A kept-alive connection the Konnektor closed while it lay in the pool fails at once with
    // ECONNRESET before anything was read: the request is sent again (the pool may hold more
    // than one such connection), never after any other error.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.postOnce(url, action, payload, timeoutMs);
      } catch (err) {
        if (!(err instanceof StaleSocketError) || attempt >= STALE_SOCKET_ATTEMPTS) throw err instanceof StaleSocketError ? err.original : err;
      }
    }
  }

  private postOnce(url: string, action: string, payload: Buffer, timeoutMs: number): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      let settled = false;
      // A timer of our own, cleared when the call ends. (An AbortSignal.timeout fires after the
      // call too, and aborting a finished request destroyed its socket while the agent had
      // already lent it to the next call: ECONNRESET for that one.)
      const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { name: 'TimeoutError' })), timeoutMs);
      const settle = (fn: () => void): void => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          fn();
        }
      };
      const req = httpsRequest(
        url,
        {
          method: 'POST',
          agent: this.agent,
          headers: { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: `"${action}"`, 'Content-Length': payload.length, ...authHeaders(this.opts) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > this.opts.maxResponseBytes) {
              settle(() => reject(new KonnektorError('unavailable', `the answer is larger than konnektor.soap.maxResponseBytes (${this.opts.maxResponseBytes} bytes)`)));
              req.destroy();
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => settle(() => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') })));
          res.on('error', (err) => settle(() => reject(err)));
        },
      );
      req.on('error', (err) => settle(() => reject(req.reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? new StaleSocketError(err) : err)));
      req.end(payload);
    });
  }

  /**
   * One operation: `body` is the SOAP Body's child, made by requests.ts. Resolves with the
   * answer's Body child; rejects with a KonnektorError (faults mapped, transport `unavailable`).
   */
  async call(svc: ChosenService, operation: string, body: string, timeoutMs = this.opts.timeoutMs): Promise<XmlElement> {
    const action = this.action(svc, operation);
    const envelope = `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="${SOAP_ENV}"><soap:Body>${body}</soap:Body></soap:Envelope>`;
    let answer: Answer;
    try {
      answer = await this.post(svc.endpoint, action, envelope, timeoutMs);
    } catch (err) {
      if (err instanceof KonnektorError) throw err;
      throw new KonnektorNetworkError(`Konnektor ${operation}: ${describeNetworkError(err)}`, err);
    }
    if (answer.status === 401 || answer.status === 403) throw new KonnektorError('unavailable', `Konnektor ${operation}: HTTP ${answer.status} (client credentials refused: konnektor.soap.basicAuth or tls.clientP12)`);
    const env = parseEnvelope(answer.body, operation);
    const fault = faultOf(env, operation);
    if (fault) throw fault;
    if (answer.status !== 200) throw new KonnektorError('unavailable', `Konnektor ${operation}: HTTP ${answer.status}`);
    const result = env.children.find((c) => c.name === 'Body')?.children[0];
    if (!result) throw new KonnektorError('unavailable', `Konnektor ${operation}: empty SOAP body`);
    return result;
  }
}

/** The request or its answer was lost on the way (refused, reset, timed out): a retry may help, for idempotent calls. */
export class KonnektorNetworkError extends KonnektorError {
  constructor(message: string, cause: unknown) {
    super('unavailable', message, { cause });
  }
}
