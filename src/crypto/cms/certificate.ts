import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { KeyObject, X509Certificate, createHash, createPrivateKey, createPublicKey, type webcrypto } from 'node:crypto';
import { expectBitString, expectOctets, readBer, CMS_BER } from '../../wire/ber/index.js';
import { toDer } from './der-writer.js';
import { CmsError, guard, type CmsErrorCode } from './errors.js';
import { OID } from './oids.js';

/** A private key as callers hold it: a WebCrypto key, a node KeyObject or PKCS#8 DER. */
export type PrivateKeyInput = webcrypto.CryptoKey | KeyObject | Uint8Array;

export type KeyUsageName = 'digitalSignature' | 'nonRepudiation' | 'keyEncipherment' | 'dataEncipherment' | 'keyAgreement' | 'keyCertSign' | 'cRLSign';
const KEY_USAGE_BITS: readonly KeyUsageName[] = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign'];

/**
 * An X.509 certificate with the pieces CMS needs, decoded once by PKI.js (issuer, serial,
 * validity, extensions) and, for path checks, by node:crypto. Parsing is the slow part (slower
 * than verifying a signature), hence the cache below.
 */
export class ParsedCertificate {
  /** DER of the issuer Name exactly as in the certificate (CMS matches issuerAndSerialNumber on it). */
  readonly issuer: Uint8Array;
  /** Content octets of the serialNumber INTEGER. */
  readonly serialNumber: Uint8Array;
  private publicKeyObject: KeyObject | undefined;
  private nodeCert: X509Certificate | undefined;

  constructor(
    readonly der: Uint8Array,
    readonly cert: pkijs.Certificate,
  ) {
    this.issuer = new Uint8Array(cert.issuer.valueBeforeDecode);
    this.serialNumber = cert.serialNumber.valueBlock.valueHexView;
  }

  get notBefore(): Date {
    return this.cert.notBefore.value;
  }

  get notAfter(): Date {
    return this.cert.notAfter.value;
  }

  publicKey(): KeyObject {
    this.publicKeyObject ??= createPublicKey({ key: Buffer.from(toDer(this.cert.subjectPublicKeyInfo.toSchema())), format: 'der', type: 'spki' });
    return this.publicKeyObject;
  }

  /** node's view of the same certificate, for issuer checks and signature verification in chains. */
  x509(): X509Certificate {
    this.nodeCert ??= new X509Certificate(Buffer.from(this.der.buffer, this.der.byteOffset, this.der.byteLength));
    return this.nodeCert;
  }

  /** The subjectKeyIdentifier extension value, if present (the other RecipientIdentifier choice). */
  subjectKeyIdentifier(): Uint8Array | undefined {
    const value = this.extensionValue(OID.subjectKeyIdentifier);
    if (!value) return undefined;
    return expectOctets(readBer(value, 'subjectKeyIdentifier', CMS_BER), 'subjectKeyIdentifier');
  }

  /** The keyUsage bits, or undefined when the certificate has no keyUsage extension. */
  keyUsage(): Set<KeyUsageName> | undefined {
    const value = this.extensionValue(OID.keyUsage);
    if (!value) return undefined;
    const bytes = expectBitString(readBer(value, 'keyUsage', CMS_BER), 'keyUsage');
    const usages = new Set<KeyUsageName>();
    KEY_USAGE_BITS.forEach((name, i) => {
      if (((bytes[i >> 3] ?? 0) >> (7 - (i & 7))) & 1) usages.add(name);
    });
    return usages;
  }

  subjectName(): string {
    return this.x509().subject.replace(/\n/g, ', ');
  }

  private extensionValue(oid: string): Uint8Array | undefined {
    const ext = this.cert.extensions?.find((e) => e.extnID === oid);
    return ext?.extnValue.valueBlock.valueHexView;
  }
}

// Certificates recur on every message (our own signer and decryption certificates, the trust
// anchors, a correspondent's encryption certificate), so parsed ones are kept, keyed by content.
const CACHE_LIMIT = 512;
const cache = new Map<string, ParsedCertificate>();

/**
 * Parses a DER certificate. `code` says whose fault a bad one is: 'invalid-input' for
 * certificates the caller supplies, 'malformed' for those taken from a received message.
 */
export function parseCertificate(der: Uint8Array, what: string, code: CmsErrorCode): ParsedCertificate {
  if (!(der instanceof Uint8Array) || der.length === 0) throw new CmsError(code, `${what}: no certificate`);
  const key = createHash('sha256').update(der).digest('base64');
  const hit = cache.get(key);
  if (hit) return hit;
  let parsed: ParsedCertificate;
  try {
    // Own copy (decoded views point into it): the caller may reuse its buffer, the cache outlives this call.
    const own = new Uint8Array(der);
    readBer(own, what, CMS_BER); // framing first: exact length, no trailing bytes
    const decoded = asn1js.fromBER(own, { copyInput: false, parseEmbedded: false });
    if (decoded.offset === -1) throw new Error(decoded.result.error);
    parsed = new ParsedCertificate(own, new pkijs.Certificate({ schema: decoded.result }));
    // Everything we may need later is decoded now, so a certificate PKI.js accepts but node's
    // X.509 or key parser refuses fails here, with the right code, not deep inside a check.
    parsed.keyUsage();
    parsed.subjectKeyIdentifier();
    parsed.publicKey();
    parsed.x509();
  } catch (err) {
    throw new CmsError(code, `${what}: not a usable X.509 certificate (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, parsed);
  return parsed;
}

/** The private key (RSA, or EC for ECDSA and TI-ECIES) as a node KeyObject (the form node:crypto signs and decrypts with). */
export function toPrivateKey(input: PrivateKeyInput, what: string): KeyObject {
  const key = guard('invalid-input', what, () => {
    if (input instanceof KeyObject) return input;
    if (input instanceof Uint8Array) return createPrivateKey({ key: Buffer.from(input), format: 'der', type: 'pkcs8' });
    return KeyObject.from(input);
  });
  if (key.type !== 'private') throw new CmsError('invalid-input', `${what}: a private key is required`);
  if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'rsa-pss' && key.asymmetricKeyType !== 'ec') {
    throw new CmsError('invalid-input', `${what}: RSA or EC key required, got ${key.asymmetricKeyType ?? 'unknown'}`);
  }
  return key;
}

// Both sides are immutable (a KeyObject cannot change; a parsed certificate is shared from the
// cache above and never modified), and a card signs with the same pair on every message:
// remember the pairs that matched instead of deriving the public key again each time.
const matchedPairs = new WeakMap<KeyObject, WeakSet<ParsedCertificate>>();

/** Whether `privateKey` belongs to the certificate (catches a mixed-up key before it signs). */
export function keyMatchesCertificate(privateKey: KeyObject, cert: ParsedCertificate): boolean {
  if (matchedPairs.get(privateKey)?.has(cert)) return true;
  const matches = createPublicKey(privateKey).equals(cert.publicKey());
  if (matches) {
    let certs = matchedPairs.get(privateKey);
    if (!certs) matchedPairs.set(privateKey, (certs = new WeakSet()));
    certs.add(cert);
  }
  return matches;
}
