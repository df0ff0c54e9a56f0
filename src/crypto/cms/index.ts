// The CMS layer of KOM-LE (gemSMIME_KOMLE): pure functions over bytes.
//   inner: SignedData (RFC 5652) with the signed recipient-emails attribute
//   outer: AuthEnvelopedData (RFC 5083/5084, AES-256-GCM; RSAES-OAEP or TI-ECIES per recipient) with the unauthenticated copy
// Every failure is a CmsError with a code; verification reports each check separately.
export { CmsError, type CmsErrorCode } from './errors.js';
export { OID } from './oids.js';
export type { PrivateKeyInput } from './certificate.js';
export type { CheckResult } from './chain.js';
export { signData, type SignerKey, type SignOptions, type SignatureSchemeName } from './sign.js';
export { verifySignedData, VERIFY_CHECKS, type VerifyOptions, type VerifyCheckName, type SignedDataVerification } from './verify.js';
export { encryptAuthEnveloped, type EnvelopeRecipient } from './encrypt.js';
export { tiEciesWrap, tiEciesUnwrap, tiEciesCurve, aesCmac, encodeTiEciesCryptogram, decodeTiEciesCryptogram, type TiEciesParts } from './ti-ecies.js';
export { decryptAuthEnveloped, envelopeRecipientEmails, envelopeOutline, type DecryptionKey, type DecryptedEnvelope } from './decrypt.js';
export {
  recipientIdOf,
  encodeRecipientEmails,
  encodeRecipientEmailsAttribute,
  decodeRecipientEmails,
  decodeRecipientEmailsAttributeValues,
  encodeRecipientEmailValues,
  compareRecipientEmails,
  describeRecipientId,
  ridMatchesCertificate,
  parseRecipientCertificate,
  type RecipientId,
  type RecipientEmail,
  type RecipientEmailsComparison,
} from './recipient-emails.js';
