import { constants, createDecipheriv, privateDecrypt, type KeyObject } from 'node:crypto';
import { gcmParamsOf, oaepParamsOf, readAlgId, type AlgId, type GcmParams } from './algorithms.js';
import { parseCertificate, toPrivateKey, type PrivateKeyInput } from './certificate.js';
import { openContentInfo } from './content-info.js';
import {
  FieldReader,
  UNIVERSAL,
  childrenOf,
  expectOctets,
  expectOid,
  expectSequence,
  expectSet,
  expectSmallInt,
  implicitOctets,
  isUniversal,
  rawOf,
  type Tlv,
  TAG,
} from '../../wire/ber/index.js';
import { CmsError, guard, typed } from './errors.js';
import { OID } from './oids.js';
import { tiEciesUnwrap } from './ti-ecies.js';
import { decodeRecipientEmailsAttributeValues, decodeRecipientId, ridMatchesCertificate, type RecipientEmail, type RecipientId } from './recipient-emails.js';

export interface DecryptionKey {
  /** Our encryption certificate (DER): selects our RecipientInfo by issuer and serial number. */
  readonly certDer: Uint8Array;
  /** A KeyObject is fastest; CryptoKey and PKCS#8 DER are converted on each call. */
  readonly privateKey: PrivateKeyInput;
}

export interface DecryptedEnvelope {
  readonly content: Uint8Array;
  /** The encrypted content's type (id-data for KOM-LE). */
  readonly contentType: string;
  /**
   * The unauthenticated recipient-emails copy; empty when the attribute is absent (a present
   * one is never empty). Unauthenticated: compare it with the signed copy before trusting it.
   */
  readonly recipientEmails: RecipientEmail[];
  /** How many RecipientInfos the message has (of all kinds). */
  readonly recipientInfoCount: number;
}

const GCM_CIPHER = { 16: 'aes-128-gcm', 24: 'aes-192-gcm', 32: 'aes-256-gcm' } as const;

interface KeyTransport {
  readonly rid: RecipientId;
  readonly keyEncryptionAlgorithm: AlgId;
  readonly encryptedKey: Uint8Array;
}

interface ParsedEnvelope {
  readonly keyTransports: KeyTransport[];
  readonly recipientInfoCount: number;
  readonly contentType: string;
  readonly gcm: GcmParams;
  readonly ciphertext: Uint8Array;
  readonly mac: Uint8Array;
  readonly aad: Uint8Array | undefined;
  readonly recipientEmails: RecipientEmail[];
}

/**
 * Opens an AuthEnvelopedData: finds our KeyTransRecipientInfo, unwraps the content-encryption
 * key with RSAES-OAEP and decrypts with AES-GCM, checking the tag before returning anything.
 * The whole structure is validated before the private key is used.
 */
export function decryptAuthEnveloped(der: Uint8Array, key: DecryptionKey): DecryptedEnvelope {
  return typed('decryptAuthEnveloped', () => {
    const ourCert = parseCertificate(key.certDer, 'decryption certificate', 'invalid-input');
    const privateKey = toPrivateKey(key.privateKey, 'decryption private key');
    const env = readEnvelope(der);

    const ours = env.keyTransports.filter((k) => ridMatchesCertificate(k.rid, ourCert));
    if (ours.length === 0) throw new CmsError('no-recipient', `none of the ${env.recipientInfoCount} RecipientInfos is for our certificate`);
    const cek = unwrapKey(ours, privateKey, env.gcm.keyLength);
    try {
      const content = guard('tag-mismatch', 'AES-GCM authentication failed', () => {
        const decipher = createDecipheriv(GCM_CIPHER[env.gcm.keyLength], cek, env.gcm.nonce, { authTagLength: env.gcm.icvLength });
        decipher.setAuthTag(env.mac);
        if (env.aad) decipher.setAAD(env.aad);
        const plaintext = decipher.update(env.ciphertext);
        decipher.final(); // throws when the tag does not match; the plaintext is then dropped
        return plaintext;
      });
      return { content, contentType: env.contentType, recipientEmails: env.recipientEmails, recipientInfoCount: env.recipientInfoCount };
    } finally {
      cek.fill(0);
    }
  });
}

/**
 * The unauthenticated recipient-emails of an AuthEnvelopedData, read without any key: the client
 * module picks the fetching user's key by it before decrypting (KOM-LE-A_2043). The whole
 * structure is validated as for decryption.
 */
export function envelopeRecipientEmails(der: Uint8Array): RecipientEmail[] {
  return typed('envelopeRecipientEmails', () => readEnvelope(der).recipientEmails);
}

/**
 * What an AuthEnvelopedData says about itself without a key: a Konnektor decrypts elsewhere and
 * gives back only the content, the rest of a DecryptedEnvelope comes from here.
 */
export function envelopeOutline(der: Uint8Array): Omit<DecryptedEnvelope, 'content'> {
  return typed('envelopeOutline', () => {
    const env = readEnvelope(der);
    return { contentType: env.contentType, recipientEmails: env.recipientEmails, recipientInfoCount: env.recipientInfoCount };
  });
}

/** AuthEnvelopedData (RFC 5083 2.1). */
function readEnvelope(der: Uint8Array): ParsedEnvelope {
  const what = 'AuthEnvelopedData';
  const r = new FieldReader(expectSequence(openContentInfo(der, OID.authEnvelopedData, what), what), what);
  const version = expectSmallInt(r.next('version'), `${what} version`);
  if (version !== 0) throw new CmsError('unsupported', `${what}: version ${version} (0 expected)`);
  r.optionalContext(0); // originatorInfo: certificates and CRLs we have no use for
  const recipientInfos = expectSet(r.next('recipientInfos'), `${what} recipientInfos`);
  const eci = new FieldReader(expectSequence(r.next('authEncryptedContentInfo'), 'EncryptedContentInfo'), 'EncryptedContentInfo');
  const authAttrs = r.optionalContext(1);
  const mac = expectOctets(r.next('mac'), `${what} mac`);
  const unauthAttrs = r.optionalContext(2);
  r.end();
  if (recipientInfos.length === 0) throw new CmsError('malformed', `${what}: no RecipientInfo`);

  const contentType = expectOid(eci.next('contentType'), 'EncryptedContentInfo contentType');
  const gcm = gcmParamsOf(readAlgId(eci.next('contentEncryptionAlgorithm'), 'contentEncryptionAlgorithm'));
  const encrypted = eci.optionalContext(0);
  eci.end();
  if (!encrypted) throw new CmsError('unsupported', 'EncryptedContentInfo: detached encryptedContent is not supported');
  if (mac.length !== gcm.icvLength) throw new CmsError('malformed', `${what}: mac has ${mac.length} bytes, aes-ICVlen says ${gcm.icvLength}`);

  return {
    keyTransports: recipientInfos.flatMap((ri, i) => keyTransport(ri, i)),
    recipientInfoCount: recipientInfos.length,
    contentType,
    gcm,
    ciphertext: implicitOctets(encrypted, 'encryptedContent'),
    mac,
    aad: authAttrs && authenticatedData(authAttrs),
    recipientEmails: unauthAttrs ? recipientEmailsOf(unauthAttrs) : [],
  };
}

/**
 * KeyTransRecipientInfo (RFC 5652 6.2.1), RSA and TI-ECIES alike. The other RecipientInfo kinds
 * are context-tagged and skipped: another product may add kinds we do not read.
 */
function keyTransport(ri: Tlv, i: number): KeyTransport[] {
  if (!isUniversal(ri, UNIVERSAL.sequence)) return [];
  const what = `RecipientInfo ${i}`;
  const r = new FieldReader(expectSequence(ri, what), what);
  const version = expectSmallInt(r.next('version'), `${what} version`);
  const rid = decodeRecipientId(r.next('rid'), `${what} rid`);
  const keyEncryptionAlgorithm = readAlgId(r.next('keyEncryptionAlgorithm'), `${what} keyEncryptionAlgorithm`);
  const encryptedKey = expectOctets(r.next('encryptedKey'), `${what} encryptedKey`);
  r.end();
  const expected = rid.type === 'issuerAndSerialNumber' ? 0 : 2;
  if (version !== expected) throw new CmsError('malformed', `${what}: version ${version} with ${rid.type} (${expected} expected)`);
  return [{ rid, keyEncryptionAlgorithm, encryptedKey }];
}

/**
 * Unwraps the content-encryption key: RSAES-OAEP for an RSA key, TI-ECIES for an EC key (the
 * RecipientInfo must then name oid_ti_ecies_transport_encryption). All key failures look alike
 * from outside: no detail for a padding oracle.
 */
function unwrapKey(candidates: KeyTransport[], privateKey: KeyObject, keyLength: number): Buffer {
  if (privateKey.asymmetricKeyType === 'ec') return unwrapEcc(candidates, privateKey, keyLength);
  for (const k of candidates) {
    const oaep = oaepParamsOf(k.keyEncryptionAlgorithm);
    let cek: Buffer;
    try {
      cek = privateDecrypt(
        { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: oaep.hash, ...(oaep.label.length ? { oaepLabel: oaep.label } : {}) },
        k.encryptedKey,
      );
    } catch {
      continue;
    }
    if (cek.length === keyLength) return cek;
    cek.fill(0);
  }
  throw new CmsError('decrypt-failed', 'the content-encryption key could not be unwrapped with our private key');
}

function unwrapEcc(candidates: KeyTransport[], privateKey: KeyObject, keyLength: number): Buffer {
  let last: CmsError | undefined;
  for (const k of candidates) {
    const alg = k.keyEncryptionAlgorithm;
    if (alg.oid !== OID.tiEciesTransportEncryption) throw new CmsError('unsupported', `keyEncryptionAlgorithm: ${alg.oid} for an ECC certificate (TI-ECIES ${OID.tiEciesTransportEncryption} expected)`);
    if (alg.params !== undefined && !isUniversal(alg.params, UNIVERSAL.null)) throw new CmsError('malformed', 'keyEncryptionAlgorithm: TI-ECIES takes no parameters');
    try {
      const cek = tiEciesUnwrap(k.encryptedKey, privateKey);
      if (cek.length === keyLength) return cek;
      cek.fill(0);
      last = new CmsError('decrypt-failed', 'TI-ECIES: the transport key does not fit the content-encryption algorithm');
    } catch (err) {
      // A malformed cryptogram is the message's fault and says so; the rest reads as one failure.
      if (err instanceof CmsError && err.code !== 'decrypt-failed') throw err;
      last = err instanceof CmsError ? err : new CmsError('decrypt-failed', 'TI-ECIES unwrap failed', { cause: err });
    }
  }
  throw new CmsError('decrypt-failed', `the content-encryption key could not be unwrapped with our ECC key (${last?.message ?? 'no candidate'})`);
}

/** RFC 5083 2.1: the AAD is the DER of authAttrs with an EXPLICIT SET OF tag instead of [1]. */
function authenticatedData(authAttrs: Tlv): Uint8Array {
  for (const [i, attr] of childrenOf(authAttrs, 'authAttrs').entries()) attributeOf(attr, `authAttrs[${i}]`);
  const aad = Buffer.from(rawOf(authAttrs));
  aad[0] = TAG.set;
  return aad;
}

function attributeOf(tlv: Tlv, what: string): { type: string; values: Tlv[] } {
  const items = expectSequence(tlv, what);
  if (items.length !== 2) throw new CmsError('malformed', `${what}: Attribute needs type and values`);
  return { type: expectOid(items[0], `${what} type`), values: expectSet(items[1], `${what} values`) };
}

function recipientEmailsOf(unauthAttrs: Tlv): RecipientEmail[] {
  const found = childrenOf(unauthAttrs, 'unauthAttrs')
    .map((a, i) => attributeOf(a, `unauthAttrs[${i}]`))
    .filter((a) => a.type === OID.recipientEmails);
  if (found.length === 0) return [];
  if (found.length > 1) throw new CmsError('malformed', 'unauthAttrs: recipient-emails occurs more than once');
  return decodeRecipientEmailsAttributeValues(found[0]!.values);
}
