import { constants, createHash, privateEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { KonnektorError } from './errors.js';

/**
 * ExternalAuthenticate signs a hash the caller computed (AuthSignatureService: BinaryString is
 * the digest, not the data), as a card does. Node's crypto.sign always hashes its input, so the
 * RSA encodings are built here (RFC 8017) and only the raw RSA operation is OpenSSL's.
 */

/** What gemSpec_Kon's SignatureSchemes names: RSASSA-PSS (the default) or RSASSA-PKCS1-v1_5. */
export type AuthSignatureScheme = 'RSASSA-PSS' | 'RSASSA-PKCS1-v1_5';

const SHA256_LEN = 32;
/** DigestInfo prefix of SHA-256 (RFC 8017 section 9.2, note 1). */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

function mgf1(seed: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; out.length * SHA256_LEN < length; i++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(i);
    out.push(createHash('sha256').update(seed).update(c).digest());
  }
  return Buffer.concat(out).subarray(0, length);
}

/** EMSA-PSS-ENCODE (RFC 8017 9.1.1) with SHA-256, MGF1-SHA-256 and a 32-byte salt, as PS256 has it. */
function emsaPss(mHash: Buffer, modBits: number): Buffer {
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const salt = randomBytes(SHA256_LEN);
  const h = createHash('sha256').update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLen - SHA256_LEN - SHA256_LEN - 2), Buffer.from([1]), salt]);
  const mask = mgf1(h, emLen - SHA256_LEN - 1);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >> (8 * emLen - emBits);
  return Buffer.concat([db, h, Buffer.from([0xbc])]);
}

/** Signs a SHA-256 digest with an RSA key: RSASSA-PSS (PS256) or RSASSA-PKCS1-v1_5 (RS256). */
export function signDigest(key: KeyObject, digest: Uint8Array, scheme: AuthSignatureScheme = 'RSASSA-PSS'): Uint8Array {
  if (key.asymmetricKeyType !== 'rsa') throw new KonnektorError('key-not-available', `ExternalAuthenticate signs with an RSA key here, not ${key.asymmetricKeyType}`);
  if (digest.length !== SHA256_LEN) throw new KonnektorError('refused', `ExternalAuthenticate takes a SHA-256 hash (32 bytes), not ${digest.length} bytes`);
  const modBits = key.asymmetricKeyDetails?.modulusLength ?? 2048;
  const k = Math.ceil(modBits / 8);
  const mHash = Buffer.from(digest);
  if (scheme === 'RSASSA-PKCS1-v1_5') {
    return new Uint8Array(privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([SHA256_DIGEST_INFO, mHash])));
  }
  const em = emsaPss(mHash, modBits);
  const block = Buffer.concat([Buffer.alloc(k - em.length), em]);
  return new Uint8Array(privateEncrypt({ key, padding: constants.RSA_NO_PADDING }, block));
}
