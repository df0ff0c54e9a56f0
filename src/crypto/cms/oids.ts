/** Object identifiers used by the KOM-LE CMS profile (RFC 5652, 5083, 5084, 4055, 8017; gemSMIME_KOMLE). */
export const OID = {
  // content types
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  authEnvelopedData: '1.2.840.113549.1.9.16.1.23',
  // attributes
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  /** gematik recipient-emails: which address each RecipientInfo belongs to. */
  recipientEmails: '1.2.276.0.76.4.173',
  // digests
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  // RSA
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsaesOaep: '1.2.840.113549.1.1.7',
  mgf1: '1.2.840.113549.1.1.8',
  pSpecified: '1.2.840.113549.1.1.9',
  rsassaPss: '1.2.840.113549.1.1.10',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  sha384WithRSAEncryption: '1.2.840.113549.1.1.12',
  sha512WithRSAEncryption: '1.2.840.113549.1.1.13',
  // ECC (RFC 5480, RFC 5753 section 7.1.3, RFC 5758)
  ecPublicKey: '1.2.840.10045.2.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  /**
   * gematik oid_ti_ecies_transport_encryption (gemSpec_Krypt A_17220): the keyEncryptionAlgorithm
   * of a KeyTransRecipientInfo for an ECC recipient. gemSpec_OID is not among the texts at hand;
   * the value is the one other TI implementations use (docs/crypto.md, "TI-ECIES").
   */
  tiEciesTransportEncryption: '1.2.276.0.76.4.222',
  // AES-GCM (RFC 5084)
  aes128Gcm: '2.16.840.1.101.3.4.1.6',
  aes192Gcm: '2.16.840.1.101.3.4.1.26',
  aes256Gcm: '2.16.840.1.101.3.4.1.46',
  // certificate extensions
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
} as const;
