import { randomUUID } from 'node:crypto';
import { el, escapeXml, text } from './xml.js';

/**
 * gematik's TelematikError (tel/error/TelematikError.xsd) as the simulator raises it: a SOAP
 * fault whose detail is one GERROR:Error with one Trace. The codes are the Konnektor's
 * (gemSpec_Kon's error tables, not among the vendored texts); 4004–4006 for the call context
 * are the ones gemSpec_CM_KOMLE names ("antwortet der Konnektor mit einem SOAP Fault (Code:
 * 4004 - 4006)"); the others follow gemSpec_Kon and are listed here in one place so a
 * correction is one line.
 */
export const TELEMATIK_ERRORS = {
  4000: { type: 'Technical', text: 'Syntaxfehler' },
  4001: { type: 'Technical', text: 'Interner Fehler' },
  4004: { type: 'Technical', text: 'Ungültige Mandanten-ID' },
  4005: { type: 'Technical', text: 'Ungültige Clientsystem-ID' },
  4006: { type: 'Technical', text: 'Ungültige Arbeitsplatz-ID' },
  4008: { type: 'Technical', text: 'Karte nicht als gesteckt identifiziert' },
  4063: { type: 'Security', text: 'PIN blockiert' },
  4085: { type: 'Security', text: 'Zugriffsbedingungen nicht erfüllt' },
  4101: { type: 'Technical', text: 'Kartenhandle ungültig' },
  4149: { type: 'Technical', text: 'Schlüssel nicht auf der Karte vorhanden' },
  4208: { type: 'Technical', text: 'Entschlüsselung fehlgeschlagen' },
  4253: { type: 'Technical', text: 'Dokument ist nicht signiert' },
} as const;

export type TelematikErrorCode = keyof typeof TELEMATIK_ERRORS;

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
