import type { KonnektorContext, CertRef, Crypt } from '../types.js';
import { KONNEKTOR_NS as NS, escapeXml as esc } from '../../../wire/konnektor/index.js';
import { b64 } from './xml.js';

// The SOAP Body children Postamt sends, written out as the XSDs of the vendored WSDLs have
// them (element order and namespaces matter: the Konnektor validates). Each root element
// declares every namespace it uses, so the tests can validate the element on its own.

export { NS };

/** SignatureService's namespace follows its major.minor (v7.4, v7.5). */
export function sigNamespace(version: string): string {
  return `http://ws.gematik.de/conn/SignatureService/v${version.split('.').slice(0, 2).join('.')}`;
}

const xmlns = (prefixes: Array<keyof typeof NS>, extra: Record<string, string> = {}): string =>
  [...prefixes.map((p) => `xmlns:${p}="${NS[p]}"`), ...Object.entries(extra).map(([p, u]) => `xmlns:${p}="${u}"`)].join(' ');

/** CCTX:Context (ConnectorContext.xsd): MandantId, ClientSystemId, WorkplaceId, UserId only for HBA calls. */
export function contextXml(ctx: KonnektorContext): string {
  return (
    '<CCTX:Context>' +
    `<CONN:MandantId>${esc(ctx.mandantId)}</CONN:MandantId>` +
    `<CONN:ClientSystemId>${esc(ctx.clientSystemId)}</CONN:ClientSystemId>` +
    `<CONN:WorkplaceId>${esc(ctx.workplaceId)}</CONN:WorkplaceId>` +
    (ctx.userId ? `<CONN:UserId>${esc(ctx.userId)}</CONN:UserId>` : '') +
    '</CCTX:Context>'
  );
}

/** The recipient-emails Attribute (DER) as a dss:Property, as gemSpec_CM_KOMLE's examples show it (KOM-LE-A_2190, KOM-LE-A_2191). */
function recipientEmailsProperty(attributeDer: Uint8Array): string {
  return `<dss:Property><dss:Identifier>RecipientEmailsAttribute</dss:Identifier><dss:Value><CMSAttribute>${b64(attributeDer)}</CMSAttribute></dss:Value></dss:Property>`;
}

/** EventService.GetCards for the context (all its cards; SMC-B and HBA are picked from them). */
export function getCardsXml(ctx: KonnektorContext): string {
  return `<EVT:GetCards ${xmlns(['EVT', 'CCTX', 'CONN'])} mandant-wide="false">${contextXml(ctx)}</EVT:GetCards>`;
}

/** CertificateService.ReadCardCertificate; Crypt only where the service has it (6.0.1, C_8883). */
export function readCardCertificateXml(ctx: KonnektorContext, cardHandle: string, certRef: CertRef, crypt: Crypt | undefined): string {
  return (
    `<CERT:ReadCardCertificate ${xmlns(['CERT', 'CCTX', 'CONN'])}>` +
    `<CONN:CardHandle>${esc(cardHandle)}</CONN:CardHandle>` +
    contextXml(ctx) +
    `<CERT:CertRefList><CERT:CertRef>${certRef}</CERT:CertRef></CERT:CertRefList>` +
    (crypt ? `<CERT:Crypt>${crypt}</CERT:Crypt>` : '') +
    '</CERT:ReadCardCertificate>'
  );
}

export interface SignXmlInput {
  readonly sigVersion: string;
  readonly cardHandle: string;
  readonly crypt: Crypt | undefined;
  readonly content: Uint8Array;
  readonly recipientEmailsAttribute: Uint8Array;
  readonly requestId: string;
}

/**
 * SignatureService.SignDocument: CMS (urn:ietf:rfc:5652) with the content inside
 * (IncludeEContent), the signed recipient-emails attribute (KOM-LE-A_2190), no viewer (TvMode NONE).
 */
export function signDocumentXml(ctx: KonnektorContext, s: SignXmlInput): string {
  return (
    `<SIG:SignDocument ${xmlns(['CCTX', 'CONN', 'dss'], { SIG: sigNamespace(s.sigVersion) })}>` +
    `<CONN:CardHandle>${esc(s.cardHandle)}</CONN:CardHandle>` +
    (s.crypt ? `<SIG:Crypt>${s.crypt}</SIG:Crypt>` : '') +
    contextXml(ctx) +
    '<SIG:TvMode>NONE</SIG:TvMode>' +
    `<SIG:SignRequest RequestID="${esc(s.requestId)}">` +
    '<SIG:OptionalInputs>' +
    '<dss:SignatureType>urn:ietf:rfc:5652</dss:SignatureType>' +
    `<dss:Properties><dss:SignedProperties>${recipientEmailsProperty(s.recipientEmailsAttribute)}</dss:SignedProperties></dss:Properties>` +
    '<SIG:IncludeEContent>true</SIG:IncludeEContent>' +
    '</SIG:OptionalInputs>' +
    `<SIG:Document ShortText="KOM-LE-Nachricht"><dss:Base64Data MimeType="message/rfc822">${b64(s.content)}</dss:Base64Data></SIG:Document>` +
    '<SIG:IncludeRevocationInfo>false</SIG:IncludeRevocationInfo>' +
    '</SIG:SignRequest>' +
    '</SIG:SignDocument>'
  );
}

/** SignatureService.VerifyDocument of a CMS SignedData with its content inside (no separate Document). */
export function verifyDocumentXml(ctx: KonnektorContext, sigVersion: string, signedData: Uint8Array): string {
  return (
    `<SIG:VerifyDocument ${xmlns(['CCTX', 'CONN', 'dss'], { SIG: sigNamespace(sigVersion) })}>` +
    contextXml(ctx) +
    '<SIG:TvMode>NONE</SIG:TvMode>' +
    `<dss:SignatureObject><dss:Base64Signature Type="urn:ietf:rfc:5652">${b64(signedData)}</dss:Base64Signature></dss:SignatureObject>` +
    '<SIG:IncludeRevocationInfo>false</SIG:IncludeRevocationInfo>' +
    '</SIG:VerifyDocument>'
  );
}

/** EncryptionService.EncryptDocument: every recipient certificate, recipient-emails unprotected (KOM-LE-A_2191). */
export function encryptDocumentXml(ctx: KonnektorContext, certificates: readonly Uint8Array[], content: Uint8Array, recipientEmailsAttribute: Uint8Array): string {
  return (
    `<CRYPT:EncryptDocument ${xmlns(['CRYPT', 'CCTX', 'CONN', 'dss'])}>` +
    contextXml(ctx) +
    `<CRYPT:RecipientKeys>${certificates.map((c) => `<CRYPT:Certificate>${b64(c)}</CRYPT:Certificate>`).join('')}</CRYPT:RecipientKeys>` +
    `<CONN:Document><dss:Base64Data MimeType="application/octet-stream">${b64(content)}</dss:Base64Data></CONN:Document>` +
    '<CRYPT:OptionalInputs>' +
    '<CRYPT:EncryptionType>urn:ietf:rfc:5652</CRYPT:EncryptionType>' +
    `<CRYPT:UnprotectedProperties>${recipientEmailsProperty(recipientEmailsAttribute)}</CRYPT:UnprotectedProperties>` +
    '</CRYPT:OptionalInputs>' +
    '</CRYPT:EncryptDocument>'
  );
}

/** EncryptionService.DecryptDocument with the card's C.ENC key of that kind (Crypt from 6.1.1 on). */
export function decryptDocumentXml(ctx: KonnektorContext, cardHandle: string, crypt: Crypt | undefined, document: Uint8Array): string {
  return (
    `<CRYPT:DecryptDocument ${xmlns(['CRYPT', 'CCTX', 'CONN', 'dss'])}>` +
    contextXml(ctx) +
    `<CRYPT:PrivateKeyOnCard><CONN:CardHandle>${esc(cardHandle)}</CONN:CardHandle><CRYPT:KeyReference>C.ENC</CRYPT:KeyReference>${crypt ? `<CRYPT:Crypt>${crypt}</CRYPT:Crypt>` : ''}</CRYPT:PrivateKeyOnCard>` +
    `<CONN:Document><dss:Base64Data MimeType="application/pkcs7-mime">${b64(document)}</dss:Base64Data></CONN:Document>` +
    '</CRYPT:DecryptDocument>'
  );
}

/** PIN.SMC for an SMC-B, PIN.CH for an HBA (gemSpec_CM_KOMLE 3.8.1, 3.8.4). */
export type PinTyp = 'PIN.SMC' | 'PIN.CH';

export function getPinStatusXml(ctx: KonnektorContext, cardHandle: string, pinTyp: PinTyp): string {
  return `<CARD:GetPinStatus ${xmlns(['CARD', 'CARDCMN', 'CCTX', 'CONN'])}>${contextXml(ctx)}<CONN:CardHandle>${esc(cardHandle)}</CONN:CardHandle><CARDCMN:PinTyp>${pinTyp}</CARDCMN:PinTyp></CARD:GetPinStatus>`;
}

export function verifyPinXml(ctx: KonnektorContext, cardHandle: string, pinTyp: PinTyp): string {
  return `<CARD:VerifyPin ${xmlns(['CARD', 'CARDCMN', 'CCTX', 'CONN'])}>${contextXml(ctx)}<CONN:CardHandle>${esc(cardHandle)}</CONN:CardHandle><CARDCMN:PinTyp>${pinTyp}</CARDCMN:PinTyp></CARD:VerifyPin>`;
}

/** The namespace of ExternalAuthenticate: AuthSignatureService 7.4.x imports SignatureService.xsd v7.4. */
export const AUTH_SIG_NS = 'http://ws.gematik.de/conn/SignatureService/v7.4';

/**
 * AuthSignatureService.ExternalAuthenticate: the hash as BinaryString, signed with the card's
 * C.AUT key; SignatureType urn:ietf:rfc:3447 (RSA) with the scheme named.
 */
export function externalAuthenticateXml(ctx: KonnektorContext, cardHandle: string, hash: Uint8Array, scheme: 'RSASSA-PSS' | 'RSASSA-PKCS1-v1_5'): string {
  return (
    `<SIG:ExternalAuthenticate ${xmlns(['CCTX', 'CONN', 'dss'], { SIG: AUTH_SIG_NS })}>` +
    `<CONN:CardHandle>${esc(cardHandle)}</CONN:CardHandle>` +
    contextXml(ctx) +
    `<SIG:OptionalInputs><dss:SignatureType>urn:ietf:rfc:3447</dss:SignatureType><SIG:SignatureSchemes>${scheme}</SIG:SignatureSchemes></SIG:OptionalInputs>` +
    `<SIG:BinaryString><dss:Base64Data MimeType="application/octet-stream">${b64(hash)}</dss:Base64Data></SIG:BinaryString>` +
    '</SIG:ExternalAuthenticate>'
  );
}
