import type { KonnektorCallContext } from '../../wire/kim/index.js';
import type { DecryptedEnvelope, EnvelopeRecipient, RecipientEmail, RecipientId, SignatureSchemeName, SignedDataVerification } from '../cms/index.js';

/**
 * The Konnektor call context (gemSpec_Kon: Context { MandantId, ClientSystemId, WorkplaceId,
 * UserId? }): which practice's card to use, and who may ask. The client module takes it from
 * the KIM user name (`address#host:port#MandantId#ClientsystemId#WorkplaceId[#UserId]`).
 */
export type KonnektorContext = KonnektorCallContext;

/**
 * Which certificate of a card: SMC-B C.HCI.OSIG is `C.SIG`, C.HCI.ENC is `C.ENC`, C.HCI.AUT is
 * `C.AUT` (the CertRef values of the Konnektor's CertificateService).
 */
export type CertRef = 'C.SIG' | 'C.ENC' | 'C.AUT';

/** The key kind of a card operation (the Konnektor's `Crypt` parameter: RSA or ECC). */
export type Crypt = 'RSA' | 'ECC';

export interface SignDocumentRequest {
  /** The bytes to sign: for KOM-LE the inner `message/rfc822` entity. */
  readonly content: Uint8Array;
  /** The signed copy of recipient-emails (one entry per RecipientInfo of the outer envelope). */
  readonly recipientEmails: readonly RecipientEmail[];
  /** Default: RSASSA-PSS, gematik's choice for RSA signatures. */
  readonly scheme?: SignatureSchemeName;
  /** Which signature key of the card: RSA (default; KOM-LE-A_2020) or ECC (then ECDSA). */
  readonly crypt?: Crypt;
  readonly signingTime?: Date;
  /**
   * The caller does not use `content` after this call: the Konnektor may take its memory (the
   * software Konnektor's workers then get it without a copy, leaving the caller's view empty).
   */
  readonly handOver?: boolean;
}

/** AuthSignatureService.ExternalAuthenticate: a hash signed with the card's C.AUT key. */
export interface ExternalAuthenticateRequest {
  /** The SHA-256 hash to sign (BinaryString; the Konnektor signs it as given, it does not hash again). */
  readonly hash: Uint8Array;
  /** SignatureSchemes: RSASSA-PSS (default; A_19457-02 asks for it) or RSASSA-PKCS1-v1_5. */
  readonly scheme?: 'RSASSA-PSS' | 'RSASSA-PKCS1-v1_5';
}

export interface EncryptDocumentRequest {
  readonly content: Uint8Array;
  /** Every recipient certificate, the sender's own encryption certificate included. */
  readonly recipients: readonly EnvelopeRecipient[];
  /** As SignDocumentRequest.handOver. */
  readonly handOver?: boolean;
}

export interface DecryptDocumentRequest {
  /** DER of the AuthEnvelopedData ContentInfo. */
  readonly document: Uint8Array;
  /**
   * Only a key whose certificate one of these names may decrypt: the RecipientIdentifiers that
   * recipient-emails gives the fetching user's address (KOM-LE-A_2043, KOM-LE-A_2045). Absent:
   * any key of the context's card.
   */
  readonly recipientIds?: readonly RecipientId[];
}

export interface VerifyDocumentRequest {
  /** DER of the SignedData ContentInfo. */
  readonly document: Uint8Array;
  /** When validity and chain are judged (default: the signing time, else now). */
  readonly at?: Date;
}

/**
 * The Konnektor operations KOM-LE needs, named after the real Konnektor's SOAP operations
 * (SignatureService.SignDocument / VerifyDocument, EncryptionService.EncryptDocument /
 * DecryptDocument, CertificateService.ReadCardCertificate). Every call carries the context;
 * the Konnektor decides which card (SMC-B, or the HBA of `userId`) answers.
 *
 * Failures of the Konnektor itself (context not authorised, card or key missing, Konnektor
 * unreachable) are KonnektorErrors; failures of the data (a damaged or foreign message) are
 * CmsErrors, as the cms layer throws them.
 */
export interface Konnektor {
  /** Product name and versions, for X-KIM-KONVersion. */
  readonly productInfo: string;
  /** Whether ECC certificates may be used with this Konnektor at all (A_17464: its service versions). */
  readonly eccCapable: boolean;
  /** The card's certificate of that kind (default RSA); `key-not-available` when the card has none. */
  readCardCertificate(ctx: KonnektorContext, certRef: CertRef, crypt?: Crypt): Promise<Uint8Array>;
  /** CMS SignedData (DER) with the card's signature key. */
  signDocument(ctx: KonnektorContext, req: SignDocumentRequest): Promise<Uint8Array>;
  /**
   * AuthSignatureService.ExternalAuthenticate: the raw signature (urn:ietf:rfc:3447) of the
   * hash with the SMC-B's (or the UserId's HBA's) C.AUT key, as the Administrationsmodul signs
   * the Account Manager's JWT with it (gemSpec_CM_KOMLE A_19457-02).
   */
  externalAuthenticate(ctx: KonnektorContext, req: ExternalAuthenticateRequest): Promise<Uint8Array>;
  /** CMS AuthEnvelopedData (DER); needs no card, but the context is still checked. */
  encryptDocument(ctx: KonnektorContext, req: EncryptDocumentRequest): Promise<Uint8Array>;
  /** Opens an AuthEnvelopedData with the card's encryption key(s). */
  decryptDocument(ctx: KonnektorContext, req: DecryptDocumentRequest): Promise<DecryptedEnvelope>;
  /** Verifies a SignedData against the Konnektor's trust anchors (the TSL). */
  verifyDocument(ctx: KonnektorContext, req: VerifyDocumentRequest): Promise<SignedDataVerification>;
  /**
   * Resolves when `productInfo` and `eccCapable` can be read: the SOAP Konnektor reads its
   * service directory first (rejects with `unavailable` when it cannot; a later call tries
   * again). Absent: ready at once. A role awaits it before it takes connections.
   */
  ready?(): Promise<void>;
  /**
   * The Konnektor that serves this context, when several stand behind this one (one per
   * practice); absent: this one serves every context. Ask it for `productInfo` and `eccCapable`.
   */
  forContext?(ctx: KonnektorContext): Konnektor;
  /** Releases what the Konnektor holds (the software Konnektor's worker threads); optional. */
  close?(): Promise<void>;
}
