import { constants, createCipheriv, publicEncrypt, randomBytes } from 'node:crypto';
import { OAEP_SHA256_ALG_ID, aes256GcmAlgId } from './algorithms.js';
import { parseCertificate } from './certificate.js';
import { TAG, derNode, derSetOf, derSmallInt, writeDer } from '../../wire/ber/index.js';
import { derOid } from './der-writer.js';
import { CmsError, guard, typed } from './errors.js';
import { OID } from './oids.js';
import { encodeRecipientEmailsAttribute, encodeRecipientId, recipientIdFromCert, type RecipientEmail } from './recipient-emails.js';

export interface EnvelopeRecipient {
  /** The recipient's RSA encryption certificate (DER), e.g. from the VZD. */
  readonly certDer: Uint8Array;
  /** The KIM address this certificate was looked up for; goes into recipient-emails. */
  readonly email: string;
}

const TAG_LENGTH = 16;

/**
 * The outer KOM-LE layer: CMS AuthEnvelopedData (RFC 5083) with AES-256-GCM (RFC 5084), as DER
 * of a ContentInfo. One KeyTransRecipientInfo (issuerAndSerialNumber, RSAES-OAEP SHA-256) per
 * recipient — the sender included, which is the caller's business — no originatorInfo, no
 * authAttrs (the AAD is empty), and unauthAttrs carrying recipient-emails, one entry per
 * RecipientInfo.
 */
export function encryptAuthEnveloped(content: Uint8Array, recipients: readonly EnvelopeRecipient[]): Uint8Array {
  return typed('encryptAuthEnveloped', () => {
    if (!(content instanceof Uint8Array)) throw new CmsError('invalid-input', 'encryptAuthEnveloped: content must be bytes');
    if (!Array.isArray(recipients) || recipients.length === 0) throw new CmsError('invalid-input', 'encryptAuthEnveloped: at least one recipient is required');
    const parsed = recipients.map((r, i) => {
      const cert = parseCertificate(r.certDer, `recipient ${i} certificate`, 'invalid-input');
      const keyType = cert.publicKey().asymmetricKeyType;
      if (keyType !== 'rsa') throw new CmsError('invalid-input', `recipient ${i} (${r.email}): RSA encryption certificate required, got ${keyType ?? 'unknown'}`);
      const usage = cert.keyUsage();
      if (usage && !usage.has('keyEncipherment')) throw new CmsError('invalid-input', `recipient ${i} (${r.email}): certificate does not allow keyEncipherment`);
      return { cert, email: r.email, rid: recipientIdFromCert(cert) };
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
          publicEncrypt({ key: p.cert.publicKey(), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek),
        );
        // KeyTransRecipientInfo, version 0 because rid is issuerAndSerialNumber.
        return writeDer(derNode(TAG.sequence, [derSmallInt(0), encodeRecipientId(p.rid), OAEP_SHA256_ALG_ID, derNode(TAG.octetString, [encryptedKey])]));
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
