import { constants, createCipheriv, publicEncrypt, randomBytes } from 'node:crypto';
import { OAEP_SHA256_ALG_ID, TI_ECIES_ALG_ID, aes256GcmAlgId } from './algorithms.js';
import { parseCertificate, type ParsedCertificate } from './certificate.js';
import { tiEciesCurve, tiEciesWrap } from './ti-ecies.js';
import { TAG, derNode, derSetOf, derSmallInt, writeDer } from '../../wire/ber/index.js';
import { derOid } from './der-writer.js';
import { CmsError, guard, typed } from './errors.js';
import { OID } from './oids.js';
import { encodeRecipientEmailsAttribute, encodeRecipientId, recipientIdFromCert, type RecipientEmail } from './recipient-emails.js';

export interface EnvelopeRecipient {
  /** The recipient's encryption certificate (DER), RSA or ECC on a brainpool curve, e.g. from the VZD. */
  readonly certDer: Uint8Array;
  /** The KIM address this certificate was looked up for; goes into recipient-emails. */
  readonly email: string;
}

const TAG_LENGTH = 16;

/**
 * The outer KOM-LE layer: CMS AuthEnvelopedData (RFC 5083) with AES-256-GCM (RFC 5084), as DER
 * of a ContentInfo. One KeyTransRecipientInfo (issuerAndSerialNumber; RSAES-OAEP SHA-256 for an
 * RSA certificate, TI-ECIES for an ECC one) per recipient certificate — the sender included, which
 * is the caller's business — no originatorInfo, no
 * authAttrs (the AAD is empty), and unauthAttrs carrying recipient-emails, one entry per
 * RecipientInfo.
 */
export function encryptAuthEnveloped(content: Uint8Array, recipients: readonly EnvelopeRecipient[]): Uint8Array {
  return typed('encryptAuthEnveloped', () => {
    if (!(content instanceof Uint8Array)) throw new CmsError('invalid-input', 'encryptAuthEnveloped: content must be bytes');
    if (!Array.isArray(recipients) || recipients.length === 0) throw new CmsError('invalid-input', 'encryptAuthEnveloped: at least one recipient is required');
    const parsed = recipients.map((r, i) => {
      const cert = parseCertificate(r.certDer, `recipient ${i} certificate`, 'invalid-input');
      return { cert, email: r.email, rid: recipientIdFromCert(cert), kind: transportKind(cert, `recipient ${i} (${r.email})`) };
    });
    // Encoded before any key material exists: a bad address fails the call early and cleanly.
    const emails: RecipientEmail[] = parsed.map((p) => ({ email: p.email, rid: p.rid }));
    const unauthAttrs = derNode(TAG.contextConstructed(2), [encodeRecipientEmailsAttribute(emails)]);

    const cek = randomBytes(32);
    try {
      const nonce = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', cek, nonce, { authTagLength: TAG_LENGTH });
      const ciphertext = cipher.update(content);
      cipher.final(); // GCM is a stream mode: final() emits nothing, it only completes the tag
      const tag = cipher.getAuthTag();

      const recipientInfos = parsed.map((p, i) => {
        const encryptedKey = guard('invalid-input', `recipient ${i} key transport`, () =>
          p.kind === 'ecc'
            ? tiEciesWrap(cek, p.cert.publicKey())
            : publicEncrypt({ key: p.cert.publicKey(), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek),
        );
        // KeyTransRecipientInfo, version 0 because rid is issuerAndSerialNumber; for ECC too
        // (A_17220: TI-ECIES is a key transport, never a KeyAgreeRecipientInfo).
        const algorithm = p.kind === 'ecc' ? TI_ECIES_ALG_ID : OAEP_SHA256_ALG_ID;
        return writeDer(derNode(TAG.sequence, [derSmallInt(0), encodeRecipientId(p.rid), algorithm, derNode(TAG.octetString, [encryptedKey])]));
      });

      return writeDer(
        derNode(TAG.sequence, [
          derOid(OID.authEnvelopedData),
          derNode(TAG.contextConstructed(0), [
            derNode(TAG.sequence, [
              derSmallInt(0), // RFC 5083: version is always 0
              derSetOf(TAG.set, recipientInfos),
              derNode(TAG.sequence, [derOid(OID.data), aes256GcmAlgId(nonce), derNode(TAG.contextPrimitive(0), [ciphertext])]),
              derNode(TAG.octetString, [tag]),
              unauthAttrs,
            ]),
          ]),
        ]),
      );
    } finally {
      cek.fill(0);
    }
  });
}

/**
 * How the key travels to this certificate's holder: RSAES-OAEP for RSA keys that may encipher
 * keys, TI-ECIES for EC keys on a TI curve that may agree keys (gematik's ECC ENC certificates
 * carry keyAgreement only, gemSpec_PKI).
 */
function transportKind(cert: ParsedCertificate, who: string): 'rsa' | 'ecc' {
  const key = cert.publicKey();
  const usage = cert.keyUsage();
  if (key.asymmetricKeyType === 'rsa') {
    if (usage && !usage.has('keyEncipherment')) throw new CmsError('invalid-input', `${who}: certificate does not allow keyEncipherment`);
    return 'rsa';
  }
  if (key.asymmetricKeyType === 'ec') {
    if (!tiEciesCurve(key)) throw new CmsError('invalid-input', `${who}: ECC certificate on ${key.asymmetricKeyDetails?.namedCurve ?? 'an unknown curve'} (TI cards use brainpool curves)`);
    if (usage && !usage.has('keyAgreement') && !usage.has('keyEncipherment')) throw new CmsError('invalid-input', `${who}: ECC certificate allows neither keyAgreement nor keyEncipherment`);
    return 'ecc';
  }
  throw new CmsError('invalid-input', `${who}: RSA or ECC encryption certificate required, got ${key.asymmetricKeyType ?? 'unknown'}`);
}
