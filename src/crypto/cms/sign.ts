import { constants, createHash, sign as signBytes } from 'node:crypto';
import { ECDSA_SHA256_ALG_ID, PKCS1_SHA256_ALG_ID, PSS_SALT_LENGTH, PSS_SHA256_ALG_ID, SHA256_ALG_ID } from './algorithms.js';
import { keyMatchesCertificate, parseCertificate, toPrivateKey, type PrivateKeyInput } from './certificate.js';
import { TAG, derNode, derSetOf, derSmallInt, writeDer } from '../../wire/ber/index.js';
import { derOid, derTime } from './der-writer.js';
import { CmsError, guard, typed } from './errors.js';
import { OID } from './oids.js';
import { encodeRecipientEmailValues, encodeRecipientId, recipientIdFromCert, type RecipientEmail } from './recipient-emails.js';

/** The RSA schemes; an EC signer key always signs ECDSA with SHA-256 (the scheme is then ignored). */
export type SignatureSchemeName = 'pkcs1' | 'pss';

export interface SignerKey {
  /** The signer certificate (DER); it becomes the only entry of `certificates`. */
  readonly certDer: Uint8Array;
  /** A KeyObject is fastest; CryptoKey and PKCS#8 DER are converted on each call. */
  readonly privateKey: PrivateKeyInput;
}

export interface SignOptions {
  /** RSASSA-PKCS1-v1_5 or RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32), both over SHA-256; ECDSA for an EC key. */
  readonly scheme: SignatureSchemeName;
  /** The signed copy of recipient-emails: one entry per RecipientInfo of the outer envelope. */
  readonly recipientEmails: readonly RecipientEmail[];
  /** Defaults to now; written in whole seconds. */
  readonly signingTime?: Date;
}

/**
 * The inner KOM-LE layer: an opaque-signed CMS SignedData (RFC 5652) over `content`, returned
 * as DER of a ContentInfo. SHA-256, exactly one SignerInfo (sid = issuerAndSerialNumber), the
 * signer certificate as the only certificate, no CRLs, no unsigned attributes; signed
 * attributes contentType, signingTime, messageDigest and recipient-emails.
 */
export function signData(content: Uint8Array, signer: SignerKey, opts: SignOptions): Uint8Array {
  return typed('signData', () => {
    if (!(content instanceof Uint8Array)) throw new CmsError('invalid-input', 'signData: content must be bytes');
    if (opts.scheme !== 'pkcs1' && opts.scheme !== 'pss') throw new CmsError('invalid-input', `signData: unknown scheme ${String(opts.scheme)}`);
    const signingTime = opts.signingTime ?? new Date();
    if (!(signingTime instanceof Date) || Number.isNaN(signingTime.getTime())) throw new CmsError('invalid-input', 'signData: signingTime is not a valid date');
    const cert = parseCertificate(signer.certDer, 'signer certificate', 'invalid-input');
    const key = toPrivateKey(signer.privateKey, 'signer private key');
    if (!keyMatchesCertificate(key, cert)) throw new CmsError('invalid-input', 'signData: private key does not belong to the signer certificate');
    const usage = cert.keyUsage();
    if (usage && !usage.has('digitalSignature') && !usage.has('nonRepudiation')) {
      throw new CmsError('invalid-input', 'signData: signer certificate allows neither digitalSignature nor nonRepudiation');
    }

    const attributes = [
      attribute(OID.contentType, derOid(OID.data)),
      attribute(OID.signingTime, derTime(signingTime)),
      attribute(OID.messageDigest, writeDer(derNode(TAG.octetString, [createHash('sha256').update(content).digest()]))),
      // gematik form (KOM-LE-A_2127): each RecipientEmail one value of the attribute.
      writeDer(derNode(TAG.sequence, [derOid(OID.recipientEmails), derSetOf(TAG.set, encodeRecipientEmailValues(opts.recipientEmails))])),
    ];
    // RFC 5652 5.4: the signature covers the attributes as a DER SET OF (sorted), and the
    // same members go into the message under the IMPLICIT [0] tag.
    const toBeSigned = writeDer(derSetOf(TAG.set, attributes));
    const signedAttrs = Buffer.from(toBeSigned);
    signedAttrs[0] = TAG.contextConstructed(0);
    const ecdsa = key.asymmetricKeyType === 'ec';
    const signature = guard('invalid-input', 'signing', () =>
      ecdsa
        ? signBytes('sha256', toBeSigned, { key, dsaEncoding: 'der' })
        : opts.scheme === 'pss'
          ? signBytes('sha256', toBeSigned, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: PSS_SALT_LENGTH })
          : signBytes('sha256', toBeSigned, { key, padding: constants.RSA_PKCS1_PADDING }),
    );
    const signatureAlgorithm = ecdsa ? ECDSA_SHA256_ALG_ID : opts.scheme === 'pss' ? PSS_SHA256_ALG_ID : PKCS1_SHA256_ALG_ID;

    const signerInfo = derNode(TAG.sequence, [
      derSmallInt(1), // version 1: sid is issuerAndSerialNumber
      encodeRecipientId(recipientIdFromCert(cert)),
      SHA256_ALG_ID,
      signedAttrs,
      signatureAlgorithm,
      derNode(TAG.octetString, [signature]),
    ]);
    // The content is spliced in, so it is copied once (see der-writer).
    return writeDer(
      derNode(TAG.sequence, [
        derOid(OID.signedData),
        derNode(TAG.contextConstructed(0), [
          derNode(TAG.sequence, [
            derSmallInt(1), // version 1: id-data content, issuerAndSerialNumber sids, X.509 certificates only
            derNode(TAG.set, [SHA256_ALG_ID]),
            derNode(TAG.sequence, [derOid(OID.data), derNode(TAG.contextConstructed(0), [derNode(TAG.octetString, [content])])]),
            derNode(TAG.contextConstructed(0), [cert.der]),
            derNode(TAG.set, [signerInfo]),
          ]),
        ]),
      ]),
    );
  });
}

/** Attribute ::= SEQUENCE { attrType, attrValues SET OF value } with one value. */
function attribute(type: string, valueDer: Uint8Array): Uint8Array {
  return writeDer(derNode(TAG.sequence, [derOid(type), derNode(TAG.set, [valueDer])]));
}
