import { randomUUID } from 'node:crypto';
import { el, escapeXml, text } from './xml.js';
import { TELEMATIK_ERRORS, type TelematikErrorCode } from '../wire/konnektor/index.js';

/**
 * gematik's TelematikError (tel/error/TelematikError.xsd) as the simulator raises it: a SOAP
 * fault whose detail is one GERROR:Error with one Trace, the code and text from the table the
 * SOAP client reads too (wire/konnektor/telematik-errors.ts).
 */
export { TELEMATIK_ERRORS, type TelematikErrorCode };

/** A fault the simulator answers with; `detail` is for the log and ErrorText's Detail. */
export class TelematikFault extends Error {
  constructor(
    readonly code: TelematikErrorCode,
    readonly detail?: string,
  ) {
    super(`${code} ${TELEMATIK_ERRORS[code].text}${detail ? `: ${detail}` : ''}`);
    this.name = 'TelematikFault';
  }
}

/** The GERROR:Error element of a fault (self-contained: it declares GERROR). */
export function telematikErrorXml(code: TelematikErrorCode, detail?: string): string {
  const e = TELEMATIK_ERRORS[code];
  const trace = el('GERROR:Trace', [
    text('GERROR:EventID', ''),
    text('GERROR:Instance', ''),
    text('GERROR:LogReference', ''),
    text('GERROR:CompType', 'KON'),
    text('GERROR:Code', code),
    text('GERROR:Severity', 'Error'),
    text('GERROR:ErrorType', e.type),
    text('GERROR:ErrorText', e.text),
    ...(detail ? [text('GERROR:Detail', detail)] : []),
  ]);
  return el('GERROR:Error', [text('GERROR:MessageID', randomUUID()), text('GERROR:Timestamp', new Date().toISOString()), trace], { 'xmlns:GERROR': 'http://ws.gematik.de/tel/error/v2.0' });
}

/** What a handler throws for node-soap to answer with a SOAP 1.1 fault (HTTP 500). */
export function soapFault(code: TelematikErrorCode, detail?: string): { Fault: Record<string, unknown> } {
  return { Fault: { faultcode: 'soap:Server', faultstring: TELEMATIK_ERRORS[code].text, detail: { $xml: telematikErrorXml(code, detail) }, statusCode: 500 } };
}

/** A whole SOAP 1.1 fault envelope, for answers made before node-soap sees the request (malformed XML, unknown element). */
export function faultEnvelope(code: TelematikErrorCode, detail?: string): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>' +
    `<faultcode>soap:${code === 4000 ? 'Client' : 'Server'}</faultcode><faultstring>${escapeXml(TELEMATIK_ERRORS[code].text)}</faultstring>` +
    `<detail>${telematikErrorXml(code, detail)}</detail></soap:Fault></soap:Body></soap:Envelope>`
  );
}
