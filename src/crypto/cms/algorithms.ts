import * as asn1js from 'asn1js';
import { CmsError } from './errors.js';
import { OID } from './oids.js';
import {
  FieldReader,
  UNIVERSAL,
  explicitInner,
  expectNull,
  expectOctets,
  expectOid,
  expectSequence,
  expectSmallInt,
  isUniversal,
  type Tlv,
  TAG,
  derNode,
  derSmallInt,
  type DerNode,
} from '../../wire/ber/index.js';
import { derOid, toDer } from './der-writer.js';

// AlgorithmIdentifiers of the KOM-LE profile: what we write (precomputed DER) and what we
// accept when reading (decoded into plain objects node:crypto understands).

export type DigestName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

const DIGEST_BY_OID: Readonly<Record<string, DigestName>> = {
  [OID.sha1]: 'sha1',
  [OID.sha256]: 'sha256',
  [OID.sha384]: 'sha384',
  [OID.sha512]: 'sha512',
};

const PKCS1_HASH_BY_OID: Readonly<Record<string, DigestName>> = {
  [OID.sha256WithRSAEncryption]: 'sha256',
  [OID.sha384WithRSAEncryption]: 'sha384',
  [OID.sha512WithRSAEncryption]: 'sha512',
};

const GCM_KEY_LENGTH_BY_OID: Readonly<Record<string, 16 | 24 | 32>> = {
  [OID.aes128Gcm]: 16,
  [OID.aes192Gcm]: 24,
  [OID.aes256Gcm]: 32,
};

/** SHA-1 is refused for signatures (collisions); OAEP does not rely on collision resistance. */
const SIGNATURE_DIGESTS: readonly DigestName[] = ['sha256', 'sha384', 'sha512'];
const OAEP_DIGESTS: readonly DigestName[] = ['sha1', 'sha256', 'sha384', 'sha512'];

export interface AlgId {
  readonly oid: string;
  readonly params: Tlv | undefined;
}

export function readAlgId(tlv: Tlv | undefined, what: string): AlgId {
  const items = expectSequence(tlv, what);
  if (items.length < 1 || items.length > 2) throw new CmsError('malformed', `${what}: AlgorithmIdentifier needs 1 or 2 fields`);
  return { oid: expectOid(items[0], what), params: items[1] };
}

function hasNoParams(alg: AlgId, what: string): boolean {
  if (alg.params === undefined) return true;
  if (!isUniversal(alg.params, UNIVERSAL.null)) return false;
  expectNull(alg.params, what);
  return true;
}

/** A digest AlgorithmIdentifier; parameters absent or NULL (RFC 5754 and RFC 4055 allow both). */
export function digestOf(alg: AlgId, what: string, allowed: readonly DigestName[] = SIGNATURE_DIGESTS): DigestName {
  const name = DIGEST_BY_OID[alg.oid];
  if (!name || !allowed.includes(name)) throw new CmsError('unsupported', `${what}: digest ${alg.oid} not supported`);
  if (!hasNoParams(alg, what)) throw new CmsError('malformed', `${what}: digest parameters must be absent or NULL`);
  return name;
}

/** MGF1 with its hash, as used inside RSASSA-PSS and RSAES-OAEP parameters. */
function mgf1HashOf(alg: AlgId, what: string, allowed: readonly DigestName[]): DigestName {
  if (alg.oid !== OID.mgf1) throw new CmsError('unsupported', `${what}: mask generation ${alg.oid} not supported`);
  return digestOf(readAlgId(alg.params, `${what} MGF1 hash`), `${what} MGF1 hash`, allowed);
}

export type SignatureScheme =
  | { readonly scheme: 'pkcs1'; readonly hash: DigestName }
  | { readonly scheme: 'pss'; readonly hash: DigestName; readonly saltLength: number }
  | { readonly scheme: 'ecdsa'; readonly hash: DigestName };

const ECDSA_HASH_BY_OID: Readonly<Record<string, DigestName>> = {
  [OID.ecdsaWithSha256]: 'sha256',
  [OID.ecdsaWithSha384]: 'sha384',
  [OID.ecdsaWithSha512]: 'sha512',
};

/**
 * The SignerInfo signatureAlgorithm. `digest` is the SignerInfo digestAlgorithm, which
 * rsaEncryption relies on and the shaNWithRSAEncryption identifiers must agree with.
 */
export function signatureSchemeOf(alg: AlgId, digest: DigestName): SignatureScheme {
  const what = 'signatureAlgorithm';
  if (alg.oid === OID.rsaEncryption) {
    if (!hasNoParams(alg, what)) throw new CmsError('malformed', `${what}: rsaEncryption parameters must be NULL`);
    return { scheme: 'pkcs1', hash: digest };
  }
  const pkcs1Hash = PKCS1_HASH_BY_OID[alg.oid];
  if (pkcs1Hash) {
    if (!hasNoParams(alg, what)) throw new CmsError('malformed', `${what}: parameters must be absent or NULL`);
    if (pkcs1Hash !== digest) throw new CmsError('unsupported', `${what}: ${pkcs1Hash} signature over a ${digest} digest`);
    return { scheme: 'pkcs1', hash: pkcs1Hash };
  }
  if (alg.oid === OID.rsassaPss) return { scheme: 'pss', ...pssParamsOf(alg.params) };
  const ecdsaHash = ECDSA_HASH_BY_OID[alg.oid];
  if (ecdsaHash) {
    // RFC 5758 3.2: the parameters MUST be absent.
    if (alg.params !== undefined) throw new CmsError('malformed', `${what}: ecdsa-with-SHA2 parameters must be absent`);
    if (ecdsaHash !== digest) throw new CmsError('unsupported', `${what}: ${ecdsaHash} signature over a ${digest} digest`);
    return { scheme: 'ecdsa', hash: ecdsaHash };
  }
  // Some producers name the key's algorithm, as with rsaEncryption (RFC 5753 7.1.3 allows it).
  if (alg.oid === OID.ecPublicKey) return { scheme: 'ecdsa', hash: digest };
  throw new CmsError('unsupported', `${what}: ${alg.oid} not supported (RSA PKCS#1 v1.5, RSASSA-PSS or ECDSA)`);
}

/** RSASSA-PSS-params (RFC 4055): every field has a SHA-1 era default, so absence matters. */
function pssParamsOf(params: Tlv | undefined): { hash: DigestName; saltLength: number } {
  const what = 'RSASSA-PSS-params';
  const r = new FieldReader(expectSequence(params, what), what);
  const hashField = r.optionalContext(0);
  const mgfField = r.optionalContext(1);
  const saltField = r.optionalContext(2);
  const trailerField = r.optionalContext(3);
  r.end();
  const hash = hashField ? digestOf(readAlgId(explicitInner(hashField, what), `${what} hash`), `${what} hash`) : 'sha1';
  if (hash === 'sha1') throw new CmsError('unsupported', `${what}: SHA-1 is not accepted for signatures`);
  const mgfHash = mgfField ? mgf1HashOf(readAlgId(explicitInner(mgfField, what), what), what, SIGNATURE_DIGESTS) : 'sha1';
  // node:crypto (like WebCrypto) always uses the signature hash inside MGF1.
  if (mgfHash !== hash) throw new CmsError('unsupported', `${what}: MGF1 hash ${mgfHash} differs from hash ${hash}`);
  const saltLength = saltField ? expectSmallInt(explicitInner(saltField, what), `${what} saltLength`) : 20;
  if (trailerField && expectSmallInt(explicitInner(trailerField, what), `${what} trailerField`) !== 1) {
    throw new CmsError('unsupported', `${what}: trailerField must be 1`);
  }
  return { hash, saltLength };
}

export interface OaepParams {
  readonly hash: DigestName;
  /** The pSpecified label; empty by default. */
  readonly label: Uint8Array;
}

/** RSAES-OAEP-params (RFC 8017 A.2.1); defaults are SHA-1, MGF1-SHA-1 and an empty label. */
export function oaepParamsOf(alg: AlgId): OaepParams {
  const what = 'keyEncryptionAlgorithm';
  if (alg.oid === OID.rsaEncryption) throw new CmsError('unsupported', `${what}: RSA PKCS#1 v1.5 key transport is not accepted (RSAES-OAEP only)`);
  if (alg.oid !== OID.rsaesOaep) throw new CmsError('unsupported', `${what}: ${alg.oid} not supported (RSAES-OAEP only)`);
  // Absent parameters (seen in old producers) mean all defaults, like an empty SEQUENCE.
  if (alg.params === undefined || isUniversal(alg.params, UNIVERSAL.null)) return { hash: 'sha1', label: new Uint8Array(0) };
  const pWhat = 'RSAES-OAEP-params';
  const r = new FieldReader(expectSequence(alg.params, pWhat), pWhat);
  const hashField = r.optionalContext(0);
  const mgfField = r.optionalContext(1);
  const sourceField = r.optionalContext(2);
  r.end();
  const hash = hashField ? digestOf(readAlgId(explicitInner(hashField, pWhat), `${pWhat} hash`), `${pWhat} hash`, OAEP_DIGESTS) : 'sha1';
  const mgfHash = mgfField ? mgf1HashOf(readAlgId(explicitInner(mgfField, pWhat), pWhat), pWhat, OAEP_DIGESTS) : 'sha1';
  // OpenSSL (behind node:crypto) takes the MGF1 hash from the OAEP hash; nothing else is expressible.
  if (mgfHash !== hash) throw new CmsError('unsupported', `${pWhat}: MGF1 hash ${mgfHash} differs from OAEP hash ${hash}`);
  let label: Uint8Array = new Uint8Array(0);
  if (sourceField) {
    const source = readAlgId(explicitInner(sourceField, pWhat), `${pWhat} pSourceAlgorithm`);
    if (source.oid !== OID.pSpecified) throw new CmsError('unsupported', `${pWhat}: pSource ${source.oid} not supported`);
    label = expectOctets(source.params, `${pWhat} pSpecified label`);
  }
  return { hash, label };
}

export interface GcmParams {
  readonly keyLength: 16 | 24 | 32;
  readonly nonce: Uint8Array;
  /** The tag (MAC) length in bytes, 12..16. */
  readonly icvLength: number;
}

/** contentEncryptionAlgorithm of the AuthEnvelopedData: id-aesNNN-GCM with GCMParameters (RFC 5084). */
export function gcmParamsOf(alg: AlgId): GcmParams {
  const what = 'contentEncryptionAlgorithm';
  const keyLength = GCM_KEY_LENGTH_BY_OID[alg.oid];
  if (!keyLength) throw new CmsError('unsupported', `${what}: ${alg.oid} not supported (AES-GCM only)`);
  const pWhat = 'GCMParameters';
  const items = expectSequence(alg.params, pWhat);
  if (items.length < 1 || items.length > 2) throw new CmsError('malformed', `${pWhat}: 1 or 2 fields expected`);
  const nonce = expectOctets(items[0], `${pWhat} aes-nonce`);
  // aes-ICVlen DEFAULT 12
  const icvLength = items[1] ? expectSmallInt(items[1], `${pWhat} aes-ICVlen`) : 12;
  // NIST SP 800-38D: 96-bit nonces are the interoperable (and recommended) choice.
  if (nonce.length !== 12) throw new CmsError('unsupported', `${pWhat}: nonce of ${nonce.length} bytes (12 expected)`);
  if (icvLength < 12 || icvLength > 16) throw new CmsError('malformed', `${pWhat}: aes-ICVlen ${icvLength} outside 12..16`);
  return { keyLength, nonce, icvLength };
}

// ---- what we write ----------------------------------------------------------------------

function algId(oid: string, params?: asn1js.BaseBlock): asn1js.Sequence {
  const value: asn1js.BaseBlock[] = [new asn1js.ObjectIdentifier({ value: oid })];
  if (params) value.push(params);
  return new asn1js.Sequence({ value });
}

function explicit(tagNumber: number, inner: asn1js.BaseBlock): asn1js.Constructed {
  return new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber }, value: [inner] });
}

/**
 * Hash identifiers inside RSASSA-PSS-params and RSAES-OAEP-params carry NULL parameters, as
 * the ASN.1 modules of RFC 4055 and RFC 8017 spell `sha256Identifier`; readers must accept
 * absent and NULL alike, so this is the most widely understood form.
 */
const sha256WithNull = (): asn1js.Sequence => algId(OID.sha256, new asn1js.Null());

/** digestAlgorithm: SHA-256 with absent parameters (RFC 5754 section 2). */
export const SHA256_ALG_ID: Uint8Array = toDer(algId(OID.sha256));

/** sha256WithRSAEncryption, parameters NULL (RFC 4055 section 5). */
export const PKCS1_SHA256_ALG_ID: Uint8Array = toDer(algId(OID.sha256WithRSAEncryption, new asn1js.Null()));

/** RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt; trailerField keeps its default. */
export const PSS_SHA256_ALG_ID: Uint8Array = toDer(
  algId(
    OID.rsassaPss,
    new asn1js.Sequence({
      value: [
        explicit(0, sha256WithNull()),
        explicit(1, algId(OID.mgf1, sha256WithNull())),
        explicit(2, new asn1js.Integer({ value: 32 })),
      ],
    }),
  ),
);
export const PSS_SALT_LENGTH = 32;

/**
 * RSAES-OAEP with SHA-256 and MGF1-SHA-256, written out explicitly because the defaults are
 * SHA-1. pSourceAlgorithm is left at its default (empty label), which DER omits.
 */
export const OAEP_SHA256_ALG_ID: Uint8Array = toDer(
  algId(
    OID.rsaesOaep,
    new asn1js.Sequence({ value: [explicit(0, sha256WithNull()), explicit(1, algId(OID.mgf1, sha256WithNull()))] }),
  ),
);

/** oid_ti_ecies_transport_encryption, written as gemSpec_Krypt's example shows it: the OID alone. */
export const TI_ECIES_ALG_ID: Uint8Array = toDer(algId(OID.tiEciesTransportEncryption));

/** ecdsa-with-SHA256, parameters absent (RFC 5758 section 3.2). */
export const ECDSA_SHA256_ALG_ID: Uint8Array = toDer(algId(OID.ecdsaWithSha256));

/** id-aes256-GCM with GCMParameters { aes-nonce, aes-ICVlen 16 } (16 is not the default, so it is written). */
export function aes256GcmAlgId(nonce: Uint8Array): DerNode {
  return derNode(TAG.sequence, [derOid(OID.aes256Gcm), derNode(TAG.sequence, [derNode(TAG.octetString, [nonce]), derSmallInt(16)])]);
}
