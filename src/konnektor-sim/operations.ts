import { X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import {
  CmsError,
  KonnektorError,
  OID,
  decodeRecipientEmailsAttributeValues,
  parseRecipientCertificate,
  recipientIdOf,
  ridMatchesCertificate,
  type Crypt,
  type CertRef,
  type EnvelopeRecipient,
  type KonnektorContext,
  type RecipientEmail,
  type SoftwareKonnektor,
} from '../crypto/index.js';
import { ADMISSION_OID, decodeAdmission } from '../crypto/pki/index.js';
import { CMS_BER, expectOid, expectSequence, expectSet, readBer } from '../wire/ber/index.js';
import type { CardSlots, SimCard } from './cards.js';
import { TelematikFault, type TelematikErrorCode } from './errors.js';
import { content, el, listOf, statusOk, text, textOf } from './xml.js';

/** What an operation handler gets: node-soap's parse of the request element. */
type Args = Record<string, unknown>;
type Answer = Promise<{ $xml: string }>;

export interface OperationDeps {
  readonly konnektor: SoftwareKonnektor;
  readonly cards: CardSlots;
  readonly trustAnchors: readonly Uint8Array[];
}

const KONNEKTOR_FAULTS: Record<KonnektorError['code'], TelematikErrorCode> = {
  'unknown-mandant': 4004,
  'unknown-client-system': 4005,
  'unknown-workplace': 4006,
  'card-not-found': 4008,
  'key-not-available': 4149,
  refused: 4001,
  unavailable: 4001,
};

/** The software Konnektor's errors as the Konnektor's TelematikError codes. */
export function faultOf(err: unknown, cmsCode: TelematikErrorCode = 4000): TelematikFault {
  if (err instanceof TelematikFault) return err;
  if (err instanceof KonnektorError) return new TelematikFault(KONNEKTOR_FAULTS[err.code], err.message);
  if (err instanceof CmsError) return new TelematikFault(cmsCode, err.message);
  return new TelematikFault(4001, err instanceof Error ? err.message : String(err));
}

const obj = (v: unknown): Args => (v && typeof v === 'object' ? (v as Args) : {});
const str = (v: unknown): string => textOf(v) ?? '';

function contextOf(args: Args): KonnektorContext {
  const c = obj(args['Context']);
  const userId = textOf(c['UserId']);
  return { mandantId: str(c['MandantId']), clientSystemId: str(c['ClientSystemId']), workplaceId: str(c['WorkplaceId']), ...(userId ? { userId } : {}) };
}

function base64(v: unknown, what: string): Buffer {
  const s = str(v).replace(/\s+/g, '');
  if (s === '' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new TelematikFault(4000, `${what}: no base64 content`);
  return Buffer.from(s, 'base64');
}

const cryptOf = (v: unknown, fallback: Crypt = 'RSA'): Crypt => (str(v).trim() === 'ECC' ? 'ECC' : fallback);

/**
 * Operations with context and card handle: the context first (4004–4006, the software
 * Konnektor's checks), then the handle (4101 when unknown, stale or another Mandant's). The
 * context for the software Konnektor is the card's: its HBA's UserId, or none for the SMC-B.
 */
export class Operations {
  constructor(private readonly d: OperationDeps) {}

  private checkContext(ctx: KonnektorContext): void {
    try {
      this.d.konnektor.checkContext(ctx);
    } catch (err) {
      throw faultOf(err);
    }
  }

  private card(ctx: KonnektorContext, handleValue: unknown): { card: SimCard; cardCtx: KonnektorContext } {
    this.checkContext(ctx);
    const handle = str(handleValue);
    const card = this.d.cards.handle(handle);
    if (!card || card.mandantId !== ctx.mandantId) throw new TelematikFault(4101, `card handle ${JSON.stringify(handle)} is unknown or no longer valid`);
    const { userId: _u, ...rest } = ctx;
    return { card, cardCtx: card.userId ? { ...rest, userId: card.userId } : rest };
  }

  /** Keys on the card need the card's PIN verified. */
  private pinVerified(card: SimCard): void {
    if (card.pin === 'BLOCKED') throw new TelematikFault(4063, `the PIN of card ${card.handle} is blocked`);
    if (card.pin !== 'VERIFIED') throw new TelematikFault(4085, `the PIN of card ${card.handle} is ${card.pin}, not verified`);
  }

  // ------------------------------------------------------------- EventService

  async GetCards(args: Args): Answer {
    const ctx = contextOf(args);
    this.checkContext(ctx);
    const type = textOf(args['CardType']);
    const cards = this.d.cards.of(ctx.mandantId).filter((c) => !type || c.type === type);
    return content(statusOk(), el('CARD:Cards', cards.map(cardXml)));
  }

  async GetResourceInformation(args: Args): Answer {
    const ctx = contextOf(args);
    if (args['CardHandle'] === undefined) {
      this.checkContext(ctx);
      return content(statusOk());
    }
    const { card } = this.card(ctx, args['CardHandle']);
    return content(statusOk(), cardXml(card));
  }

  // ------------------------------------------------------------- CardService

  async GetPinStatus(args: Args): Answer {
    const { card } = this.card(contextOf(args), args['CardHandle']);
    return content(statusOk(), text('CARD:PinStatus', card.pin), text('CARD:LeftTries', card.pin === 'BLOCKED' ? 0 : 3));
  }

  /** The PIN is "entered at the terminal": a verifiable PIN becomes VERIFIED; a blocked one stays blocked. */
  async VerifyPin(args: Args): Answer {
    const { card } = this.card(contextOf(args), args['CardHandle']);
    let result: string;
    if (card.pin === 'BLOCKED') result = 'WASBLOCKED';
    else if (card.pin === 'TRANSPORT_PIN' || card.pin === 'EMPTY_PIN') result = 'TRANSPORT_PIN';
    else {
      card.pin = 'VERIFIED';
      result = 'OK';
    }
    return content(statusOk(), text('CARDCMN:PinResult', result), text('CARDCMN:LeftTries', card.pin === 'BLOCKED' ? 0 : 3));
  }

  // ------------------------------------------------------------- CertificateService

  async ReadCardCertificate(args: Args): Answer {
    const { cardCtx } = this.card(contextOf(args), args['CardHandle']);
    const crypt = cryptOf(args['Crypt']);
    const refs = listOf(obj(args['CertRefList'])['CertRef']).map(str);
    if (refs.length === 0) throw new TelematikFault(4000, 'CertRefList names no CertRef');
    const infos: string[] = [];
    for (const ref of refs) {
      if (ref !== 'C.SIG' && ref !== 'C.ENC' && ref !== 'C.AUT') throw new TelematikFault(4149, `the card holds no ${ref} certificate`);
      let der: Uint8Array;
      try {
        der = await this.d.konnektor.readCardCertificate(cardCtx, ref as CertRef, crypt);
      } catch (err) {
        throw faultOf(err);
      }
      infos.push(x509DataInfo(ref, der));
    }
    return content(statusOk(), el('CERTCMN:X509DataInfoList', infos));
  }

  async VerifyCertificate(args: Args): Answer {
    this.checkContext(contextOf(args));
    const der = base64(args['X509Certificate'], 'X509Certificate');
    const at = textOf(args['VerificationTime']) ? new Date(str(args['VerificationTime'])) : new Date();
    let valid = false;
    let role = 'unknown';
    try {
      const cert = new X509Certificate(der);
      const inPeriod = new Date(cert.validFrom) <= at && at <= new Date(cert.validTo);
      valid = inPeriod && this.d.trustAnchors.some((a) => {
        const ca = new X509Certificate(a);
        return cert.checkIssued(ca) && cert.verify(ca.publicKey);
      });
      const admission = new x509.X509Certificate(der).getExtension(ADMISSION_OID);
      const decoded = admission && decodeAdmission(new Uint8Array(admission.value));
      if (decoded?.professionOid) role = decoded.professionOid;
    } catch (err) {
      throw new TelematikFault(4000, `X509Certificate: ${err instanceof Error ? err.message : String(err)}`);
    }
    return content(statusOk(), el('CERT:VerificationStatus', text('CERT:VerificationResult', valid ? 'VALID' : 'INVALID')), el('CERT:RoleList', text('CERT:Role', role)));
  }

  // ------------------------------------------------------------- SignatureService

  /** CMS SignedData per SignRequest with the card's C.SIG key (Crypt RSA default; ECC; RSA_ECC as RSA). */
  async SignDocument(args: Args): Answer {
    const { card, cardCtx } = this.card(contextOf(args), args['CardHandle']);
    this.pinVerified(card);
    const crypt = cryptOf(args['Crypt']);
    const responses: string[] = [];
    for (const r of listOf(args['SignRequest'])) {
      const req = obj(r);
      const requestId = str(obj(req['attributes'])['RequestID']);
      const opt = obj(req['OptionalInputs']);
      const type = textOf(opt['SignatureType']);
      if (type && type !== 'urn:ietf:rfc:5652') throw new TelematikFault(4000, `SignatureType ${type}: the simulator signs CMS (urn:ietf:rfc:5652) only`);
      const emails = recipientEmailsProperty(obj(obj(opt['Properties'])['SignedProperties']));
      const doc = base64(obj(req['Document'])['Base64Data'], 'Document/Base64Data');
      let signed: Uint8Array;
      try {
        signed = await this.d.konnektor.signDocument(cardCtx, { content: doc, recipientEmails: emails ?? [], crypt });
      } catch (err) {
        throw faultOf(err);
      }
      responses.push(el('SIG:SignResponse', [statusOk(), el('dss:SignatureObject', text('dss:Base64Signature', Buffer.from(signed).toString('base64'), { Type: 'urn:ietf:rfc:5652' }))], { RequestID: requestId }));
    }
    if (responses.length === 0) throw new TelematikFault(4000, 'SignDocument without SignRequest');
    return content(...responses);
  }

  /** Verifies a CMS SignedData (SignatureObject/Base64Signature, else Document) against the trust anchors. */
  /**
   * AuthSignatureService.ExternalAuthenticate: BinaryString (a hash) signed with the card's
   * C.AUT key, RSASSA-PSS unless SignatureSchemes says RSASSA-PKCS1-v1_5; ECDSA is not offered.
   */
  async ExternalAuthenticate(args: Args): Answer {
    const { card, cardCtx } = this.card(contextOf(args), args['CardHandle']);
    this.pinVerified(card);
    const opt = obj(args['OptionalInputs']);
    const type = textOf(opt['SignatureType']);
    if (type && type !== 'urn:ietf:rfc:3447') throw new TelematikFault(4000, `SignatureType ${type}: the simulator authenticates with RSA (urn:ietf:rfc:3447) only`);
    const scheme = textOf(opt['SignatureSchemes']) === 'RSASSA-PKCS1-v1_5' ? 'RSASSA-PKCS1-v1_5' : 'RSASSA-PSS';
    const hash = base64(obj(args['BinaryString'])['Base64Data'], 'BinaryString/Base64Data');
    let signature: Uint8Array;
    try {
      signature = await this.d.konnektor.externalAuthenticate(cardCtx, { hash, scheme });
    } catch (err) {
      throw faultOf(err);
    }
    return content(statusOk(), el('dss:SignatureObject', text('dss:Base64Signature', Buffer.from(signature).toString('base64'), { Type: 'urn:ietf:rfc:3447' })));
  }

  async VerifyDocument(args: Args): Answer {
    const ctx = contextOf(args);
    this.checkContext(ctx);
    const sigObj = obj(args['SignatureObject']);
    const der = sigObj['Base64Signature'] !== undefined ? base64(sigObj['Base64Signature'], 'SignatureObject/Base64Signature') : base64(obj(args['Document'])['Base64Data'], 'Document/Base64Data');
    const specific = textOf(obj(obj(obj(args['OptionalInputs'])['UseVerificationTime']))['SpecificTime']);
    let ok = false;
    let time = new Date();
    try {
      const v = await this.d.konnektor.verifyDocument(ctx, { document: der, ...(specific ? { at: new Date(specific) } : {}) });
      ok = v.ok;
      time = v.checkedAt;
    } catch (err) {
      if (!(err instanceof CmsError)) throw faultOf(err);
      // A document that is no SignedData at all: no signature to verify (4253), as the client module's table has it.
      throw new TelematikFault(4253, err.message);
    }
    return content(statusOk(), el('SIG:VerificationResult', [text('SIG:HighLevelResult', ok ? 'VALID' : 'INVALID'), text('SIG:TimestampType', specific ? 'USER_DEFINED_TIMESTAMP' : 'SYSTEM_TIMESTAMP'), text('SIG:Timestamp', time.toISOString())]));
  }

  // ------------------------------------------------------------- EncryptionService

  /**
   * CMS AuthEnvelopedData for RecipientKeys (certificates, and the card's own C.ENC when
   * CertificateOnCard is given). Each certificate's address comes from the recipient-emails
   * attribute in UnprotectedProperties (KOM-LE-A_2191), which names it by issuer and serial.
   */
  async EncryptDocument(args: Args): Answer {
    const ctx = contextOf(args);
    this.checkContext(ctx);
    const keys = obj(args['RecipientKeys']);
    const certs = listOf(keys['Certificate']).map((c, i) => base64(c, `RecipientKeys/Certificate[${i}]`));
    if (keys['CertificateOnCard'] !== undefined) {
      const onCard = obj(keys['CertificateOnCard']);
      const { cardCtx } = this.card(ctx, onCard['CardHandle']);
      try {
        certs.push(Buffer.from(await this.d.konnektor.readCardCertificate(cardCtx, 'C.ENC', cryptOf(onCard['Crypt']))));
      } catch (err) {
        throw faultOf(err);
      }
    }
    if (certs.length === 0) throw new TelematikFault(4000, 'RecipientKeys names no certificate');
    const opt = obj(args['OptionalInputs']);
    const type = textOf(opt['EncryptionType']);
    if (type && type !== 'urn:ietf:rfc:5652') throw new TelematikFault(4000, `EncryptionType ${type}: the simulator encrypts CMS (urn:ietf:rfc:5652) only`);
    const emails = recipientEmailsProperty(obj(opt['UnprotectedProperties']));
    if (!emails) throw new TelematikFault(4000, 'OptionalInputs/UnprotectedProperties carries no RecipientEmailsAttribute (KOM-LE-A_2191)');
    const recipients: EnvelopeRecipient[] = certs.map((certDer, i) => {
      let parsed;
      try {
        parsed = parseRecipientCertificate(certDer);
      } catch (err) {
        throw new TelematikFault(4000, `RecipientKeys/Certificate[${i}] is no certificate: ${err instanceof Error ? err.message : String(err)}`);
      }
      const entry = emails.find((e) => ridMatchesCertificate(e.rid, parsed));
      if (!entry) throw new TelematikFault(4000, `recipient-emails names no address for RecipientKeys certificate ${i}`);
      return { certDer, email: entry.email };
    });
    const doc = base64(obj(args['Document'])['Base64Data'], 'Document/Base64Data');
    let enveloped: Uint8Array;
    try {
      enveloped = await this.d.konnektor.encryptDocument(ctx, { content: doc, recipients });
    } catch (err) {
      throw faultOf(err);
    }
    return content(statusOk(), el('CONN:Document', text('dss:Base64Data', Buffer.from(enveloped).toString('base64'))));
  }

  /** Opens an AuthEnvelopedData with the key PrivateKeyOnCard names: the card's C.ENC of Crypt (any of them without Crypt). */
  async DecryptDocument(args: Args): Answer {
    const ctx = contextOf(args);
    const key = obj(args['PrivateKeyOnCard']);
    const { card, cardCtx } = this.card(ctx, key['CardHandle']);
    this.pinVerified(card);
    const ref = textOf(key['KeyReference']) ?? 'C.ENC';
    if (ref !== 'C.ENC') throw new TelematikFault(4149, `KeyReference ${ref}: only C.ENC decrypts`);
    const crypt = str(key['Crypt']).trim();
    const doc = base64(obj(args['Document'])['Base64Data'], 'Document/Base64Data');
    let out: Uint8Array;
    try {
      const recipientIds = crypt === 'RSA' || crypt === 'ECC' ? [recipientIdOf(await this.d.konnektor.readCardCertificate(cardCtx, 'C.ENC', crypt))] : undefined;
      out = (await this.d.konnektor.decryptDocument(cardCtx, { document: doc, ...(recipientIds ? { recipientIds } : {}) })).content;
    } catch (err) {
      throw faultOf(err, 4208);
    }
    return content(statusOk(), el('CONN:Document', text('dss:Base64Data', Buffer.from(out).toString('base64'))));
  }
}

/** The RecipientEmailsAttribute property (Identifier, Value/CMSAttribute: base64 DER of the whole Attribute); undefined when absent. */
function recipientEmailsProperty(props: Args): RecipientEmail[] | undefined {
  const prop = listOf(props['Property']).map(obj).find((p) => str(p['Identifier']).trim() === 'RecipientEmailsAttribute');
  if (!prop) return undefined;
  const der = base64(obj(prop['Value'])['CMSAttribute'], 'RecipientEmailsAttribute/CMSAttribute');
  try {
    const items = expectSequence(readBer(new Uint8Array(der), 'RecipientEmailsAttribute', CMS_BER), 'RecipientEmailsAttribute');
    if (items.length !== 2 || expectOid(items[0], 'attrType') !== OID.recipientEmails) throw new TelematikFault(4000, 'RecipientEmailsAttribute: not a recipient-emails Attribute');
    return decodeRecipientEmailsAttributeValues(expectSet(items[1], 'attrValues'));
  } catch (err) {
    if (err instanceof TelematikFault) throw err;
    throw new TelematikFault(4000, `RecipientEmailsAttribute: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** CARD:Card (CardInfoType of CardService 8.1). */
function cardXml(c: SimCard): string {
  return el('CARD:Card', [
    text('CONN:CardHandle', c.handle),
    text('CARDCMN:CardType', c.type),
    text('CARDCMN:Iccsn', c.iccsn),
    text('CARDCMN:CtId', c.ctId),
    text('CARDCMN:SlotId', c.slotId),
    text('CARD:InsertTime', c.insertTime.toISOString()),
    text('CARD:CardHolderName', c.userId ?? `Mandant ${c.mandantId}`),
  ]);
}

/** CERTCMN:X509DataInfo: issuer and serial (RFC 4514 string, decimal), subject, the DER. */
function x509DataInfo(ref: string, der: Uint8Array): string {
  const cert = new X509Certificate(der);
  const rfc4514 = (name: string): string => name.split('\n').reverse().join(',');
  return el('CERTCMN:X509DataInfo', [
    text('CERTCMN:CertRef', ref),
    el('CERTCMN:X509Data', [
      el('CERTCMN:X509IssuerSerial', [text('CERTCMN:X509IssuerName', rfc4514(cert.issuer)), text('CERTCMN:X509SerialNumber', BigInt(`0x${cert.serialNumber}`).toString(10))]),
      text('CERTCMN:X509SubjectName', rfc4514(cert.subject)),
      text('CERTCMN:X509Certificate', Buffer.from(der).toString('base64')),
    ]),
  ]);
}
