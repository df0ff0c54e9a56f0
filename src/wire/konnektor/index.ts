// The vocabulary the SOAP Konnektor client (crypto/konnektor/soap) and the Konnektor simulator
// (konnektor-sim) share: the namespaces of gematik's schemas and XML text escaping. One table,
// so both sides write the same elements in the same namespaces.

/** Namespaces of the vendored schemas (api-telematik OPB5), by the prefixes gematik's examples use. */
export const KONNEKTOR_NS = {
  CONN: 'http://ws.gematik.de/conn/ConnectorCommon/v5.0',
  CCTX: 'http://ws.gematik.de/conn/ConnectorContext/v2.0',
  CARD: 'http://ws.gematik.de/conn/CardService/v8.1',
  CARDCMN: 'http://ws.gematik.de/conn/CardServiceCommon/v2.0',
  CERT: 'http://ws.gematik.de/conn/CertificateService/v6.0',
  CERTCMN: 'http://ws.gematik.de/conn/CertificateServiceCommon/v2.0',
  SIG: 'http://ws.gematik.de/conn/SignatureService/v7.5',
  CRYPT: 'http://ws.gematik.de/conn/EncryptionService/v6.1',
  EVT: 'http://ws.gematik.de/conn/EventService/v7.2',
  GERROR: 'http://ws.gematik.de/tel/error/v2.0',
  dss: 'urn:oasis:names:tc:dss:1.0:core:schema',
  SDS: 'http://ws.gematik.de/conn/ServiceDirectory/v3.1',
  SI: 'http://ws.gematik.de/conn/ServiceInformation/v2.0',
  PI: 'http://ws.gematik.de/int/version/ProductInformation/v1.1',
} as const;

export type KonnektorPrefix = keyof typeof KONNEKTOR_NS;

/** Text with XML's five special characters escaped (element content and attribute values). */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}
export { TELEMATIK_ERRORS, telematikError, type TelematikErrorCode, type TelematikErrorInfo, type TelematikMeaning } from './telematik-errors.js';
