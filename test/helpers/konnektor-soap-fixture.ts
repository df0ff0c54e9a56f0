import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

// A stand-in Konnektor for the SOAP client's tests: one HTTPS listener with connector.sds and
// the services' endpoints, answering fixed responses (the tests check them with xmllint against
// the vendored XSDs, as the requests). It keeps every request's Body child, the request headers
// and the client certificate. A test fixture, not the simulator (src/konnektor-sim).
// node-soap's own server is not used: 1.13 dispatches a document/literal request by a message
// named like the Body's element, and gematik's WSDLs name their messages otherwise
// (GetCards → GetCardsRequestMessage), so it fails inside its parser before any handler runs.

export interface FixtureService {
  readonly name: 'EventService' | 'CardService' | 'CertificateService' | 'SignatureService' | 'EncryptionService';
  /** The version connector.sds announces. */
  readonly version: string;
  /** The vendored WSDL the fixture serves it with. */
  readonly wsdl: string;
}

export const DEFAULT_SERVICES: readonly FixtureService[] = [
  { name: 'EventService', version: '7.2.0', wsdl: 'EventService.wsdl' },
  { name: 'CardService', version: '8.1.2', wsdl: 'CardService_v8_1_2.wsdl' },
  { name: 'CertificateService', version: '6.0.1', wsdl: 'CertificateService_v6_0_1.wsdl' },
  { name: 'SignatureService', version: '7.5.5', wsdl: 'SignatureService_V7_5_5.wsdl' },
  { name: 'EncryptionService', version: '6.1.1', wsdl: 'EncryptionService_v6_1_1.wsdl' },
];

/** What an operation answers: the response element (XML), a TelematikError fault, or something broken. */
export type FixtureAnswer =
  | { readonly xml: string }
  | { readonly fault: number; readonly text?: string }
  | { readonly raw: string; readonly status?: number }
  | { readonly hang: true }
  | { readonly bytes: number };

export interface CapturedRequest {
  readonly operation: string;
  /** The SOAP Body's child element, as sent. */
  readonly body: string;
  readonly headers: IncomingMessage['headers'];
  readonly clientCertFingerprint?: string;
}

export interface KonnektorFixtureOptions {
  readonly cert: string;
  readonly key: string;
  /** Ask for a client certificate (any is accepted; the fingerprint is recorded). */
  readonly requestCert?: boolean;
  readonly services?: readonly FixtureService[];
  /** Answers by operation name; a function is called on every request. */
  readonly answers: Record<string, FixtureAnswer | ((n: number) => FixtureAnswer)>;
  /** connector.sds as a whole, instead of the one made from `services`. */
  readonly sds?: string;
}

export interface KonnektorFixture {
  readonly url: string;
  readonly requests: CapturedRequest[];
  count(operation: string): number;
  close(): Promise<void>;
}

const TEL_ERROR = 'http://ws.gematik.de/tel/error/v2.0';

export function telematikFault(code: number, text: string): string {
  return (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>' +
    `<faultcode>soap:Server</faultcode><faultstring>${text}</faultstring><detail>` +
    `<GERROR:Error xmlns:GERROR="${TEL_ERROR}"><GERROR:MessageID>m1</GERROR:MessageID><GERROR:Timestamp>2025-01-01T00:00:00Z</GERROR:Timestamp>` +
    `<GERROR:Trace><GERROR:EventID>e1</GERROR:EventID><GERROR:Instance>i1</GERROR:Instance><GERROR:LogReference>l1</GERROR:LogReference><GERROR:CompType>KON</GERROR:CompType>` +
    `<GERROR:Code>${code}</GERROR:Code><GERROR:Severity>Error</GERROR:Severity><GERROR:ErrorType>Technical</GERROR:ErrorType><GERROR:ErrorText>${text}</GERROR:ErrorText></GERROR:Trace>` +
    '</GERROR:Error></detail></soap:Fault></soap:Body></soap:Envelope>'
  );
}

export function sdsXml(base: string, services: readonly FixtureService[]): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<ConnectorServices xmlns="http://ws.gematik.de/conn/ServiceDirectory/v3.1" xmlns:SI="http://ws.gematik.de/conn/ServiceInformation/v2.0" xmlns:PI="http://ws.gematik.de/int/version/ProductInformation/v1.1">' +
    '<PI:ProductInformation><PI:InformationDate>2025-01-01T00:00:00Z</PI:InformationDate>' +
    '<PI:ProductTypeInformation><PI:ProductType>Konnektor</PI:ProductType><PI:ProductTypeVersion>5.1.0</PI:ProductTypeVersion></PI:ProductTypeInformation>' +
    '<PI:ProductIdentification><PI:ProductVendorID>FIXT</PI:ProductVendorID><PI:ProductCode>KON</PI:ProductCode><PI:ProductVersion><PI:Local><PI:HWVersion>1.0.0</PI:HWVersion><PI:FWVersion>5.1.2</PI:FWVersion></PI:Local></PI:ProductVersion></PI:ProductIdentification>' +
    '<PI:ProductMiscellaneous><PI:ProductVendorName>Fixture</PI:ProductVendorName><PI:ProductName>FixtureKon</PI:ProductName></PI:ProductMiscellaneous>' +
    '</PI:ProductInformation>' +
    '<TLSMandatory>true</TLSMandatory><ClientAutMandatory>false</ClientAutMandatory>' +
    '<SI:ServiceInformation>' +
    services
      .map(
        (s) =>
          `<SI:Service Name="${s.name}"><SI:Abstract>${s.name}</SI:Abstract><SI:Versions>` +
          `<SI:Version TargetNamespace="urn:x" Version="${s.version}"><SI:Abstract>${s.name} ${s.version}</SI:Abstract><SI:EndpointTLS Location="${base}/ws/${s.name}"/></SI:Version>` +
          '</SI:Versions></SI:Service>',
      )
      .join('') +
    '</SI:ServiceInformation></ConnectorServices>'
  );
}

/** The operation a request is for, from its SOAPAction (…#Operation). */
function operationOf(req: IncomingMessage): string {
  const action = String(req.headers['soapaction'] ?? '').replace(/"/g, '');
  return action.slice(action.lastIndexOf('#') + 1);
}

export async function startKonnektorFixture(opts: KonnektorFixtureOptions): Promise<KonnektorFixture> {
  const services = opts.services ?? DEFAULT_SERVICES;
  const requests: CapturedRequest[] = [];
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server: Server = createServer({ cert: opts.cert, key: opts.key, requestCert: opts.requestCert ?? false, rejectUnauthorized: false });
  server.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const answerFor = (operation: string): FixtureAnswer => {
    const n = (counts.get(operation) ?? 0) + 1;
    counts.set(operation, n);
    const a = opts.answers[operation];
    if (!a) return { fault: 4001, text: `fixture: no answer for ${operation}` };
    return typeof a === 'function' ? a(n) : a;
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET' && req.url === '/connector.sds') {
      requests.push({ operation: 'connector.sds', body: '', headers: req.headers });
      res.writeHead(200, { 'Content-Type': 'application/xml' }).end(opts.sds ?? sdsXml(base, services));
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(404).end();
      return;
    }
    const answer = answerFor(operationOf(req));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const xml = Buffer.concat(chunks).toString('utf8');
      const m = /<soap:Body>([\s\S]*)<\/soap:Body>/.exec(xml);
      const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate?.();
      requests.push({ operation: operationOf(req), body: m ? m[1]! : xml, headers: req.headers, ...(peer && peer.fingerprint256 ? { clientCertFingerprint: peer.fingerprint256 } : {}) });
      if ('hang' in answer) return; // never answers; close() ends the socket
      if ('xml' in answer) res.writeHead(200, { 'Content-Type': 'text/xml; charset=utf-8' }).end(`<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>${answer.xml}</soap:Body></soap:Envelope>`);
      else      if ('fault' in answer) res.writeHead(500, { 'Content-Type': 'text/xml' }).end(telematikFault(answer.fault, answer.text ?? `Fehler ${answer.fault}`));
      else if ('raw' in answer) res.writeHead(answer.status ?? 200, { 'Content-Type': 'text/xml' }).end(answer.raw);
      else {
        res.writeHead(200, { 'Content-Type': 'text/xml' });
        res.end('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><x>' + 'A'.repeat(answer.bytes) + '</x></soap:Body></soap:Envelope>');
      }
    });
  });

  return {
    url: `${base}/connector.sds`,
    requests,
    count: (op) => requests.filter((r) => r.operation === op).length,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
