import { createCipheriv, createDecipheriv, createHash, createPublicKey, diffieHellman, generateKeyPairSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import { CARD_BER, CLASS, TAG, childrenOf, contentOf, derNode, derPrimitive, expectOid, readBer, writeDer, type Tlv } from '../../wire/ber/index.js';
import { derOid } from './der-writer.js';
import { CmsError } from './errors.js';
import { OID } from './oids.js';

/**
 * TI-ECIES transport encryption (gemSpec_Krypt A_17220): how a sender wraps the AES key of a
 * KOM-LE message for an ECC identity so that the recipient's smart card can unwrap it with its
 * ELC decipher (gemSpec_COS 6.8.2.3). The card defines every step, so this follows it exactly:
 *
 *   1. an ephemeral key pair on the recipient's curve; PO = its public point, uncompressed;
 *   2. KAB = ECKA(ephemeral private key, recipient's public key): the x-coordinate of the shared
 *      point, as many octets as the curve's order (BSI TR-03111 4.3.1);
 *   3. Kenc = SHA-256(KAB || 00000001), Kmac = SHA-256(KAB || 00000002) (the AES-256 key
 *      derivation of gemSpec_COS N001.520, TR-03110-3 A.2.3.2 with a 32-bit counter);
 *   4. C = AES-256-CBC(Kenc, IV = AES-256(Kenc, 16 zero octets), ISO/IEC 7816-4 padding of the key);
 *   5. T = the first 8 octets of AES-CMAC(Kmac, ISO/IEC 7816-4 padding of C);
 *   6. the card-compatible encoding of (PO, C, T), placed as the KeyTransRecipientInfo's
 *      encryptedKey:  [6] { OID curve, [APPLICATION 73] { [6] PO }, [6] '02' || C, [14] T }.
 *
 * The '02' in front of C is the padding-content indicator gematik's example cryptogram carries;
 * gematik's own decoder (the Tiger test suite's TransportKeyEncoder) drops that one octet before
 * the CMAC and the decryption, and so does this one. Nothing here has a secret-dependent branch
 * before the CMAC is checked, and every failure after parsing reads alike (no padding oracle).
 */

/** The curves a TI card's ELC decipher supports (gemSpec_COS: the brainpool curves). */
const CURVES: Readonly<Record<string, { oid: string; bytes: number }>> = {
  brainpoolP256r1: { oid: '1.3.36.3.3.2.8.1.1.7', bytes: 32 },
  brainpoolP384r1: { oid: '1.3.36.3.3.2.8.1.1.11', bytes: 48 },
  brainpoolP512r1: { oid: '1.3.36.3.3.2.8.1.1.13', bytes: 64 },
};
const CURVE_BY_OID: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(CURVES).map(([name, c]) => [c.oid, name]));

const PADDING_INDICATOR = 0x02;
const TAG_LENGTH = 8;
const BLOCK = 16;
/** Transport keys are AES keys: 16, 24 or 32 octets, so C is 32 or 48 octets. */
const MAX_CIPHERTEXT = 64;

/** The named curve of an EC key if a TI card supports it for ELC, else undefined. */
export function tiEciesCurve(key: KeyObject): string | undefined {
  const curve = key.asymmetricKeyType === 'ec' ? key.asymmetricKeyDetails?.namedCurve : undefined;
  return curve !== undefined && curve in CURVES ? curve : undefined;
}

export interface TiEciesParts {
  readonly curveOid: string;
  /** The ephemeral public point, uncompressed (04 || X || Y). */
  readonly po: Uint8Array;
  /** AES-256-CBC ciphertext, without the padding-content indicator. */
  readonly c: Uint8Array;
  readonly t: Uint8Array;
}

/** Wraps `transportKey` for the holder of `recipient` (an EC public key on a TI curve). */
export function tiEciesWrap(transportKey: Uint8Array, recipient: KeyObject): Uint8Array {
  const curve = tiEciesCurve(recipient);
  if (!curve) throw new CmsError('invalid-input', `TI-ECIES: the key is not on a curve TI cards support (${recipient.asymmetricKeyDetails?.namedCurve ?? recipient.asymmetricKeyType})`);
  if (transportKey.length !== 16 && transportKey.length !== 24 && transportKey.length !== 32) throw new CmsError('invalid-input', 'TI-ECIES: the transport key must be an AES key');
  const ephemeral = generateKeyPairSync('ec', { namedCurve: curve });
  const kab = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient });
  const { kEnc, kMac } = deriveKeys(kab);
  try {
    const c = cbc(true, kEnc, isoPad(transportKey));
    const t = cmac8(kMac, c);
    return encodeTiEciesCryptogram({ curveOid: CURVES[curve]!.oid, po: uncompressedPoint(ephemeral.publicKey), c, t });
  } finally {
    kab.fill(0);
    kEnc.fill(0);
    kMac.fill(0);
  }
}

/**
 * Unwraps a cryptogram with our EC private key, as the card's ELC decipher does: the curve must
 * be our key's, PO a point on it, the CMAC right, and the padding intact. Failures of the
 * encoding are `malformed`; everything that involves the key is `decrypt-failed`.
 */
export function tiEciesUnwrap(cryptogram: Uint8Array, privateKey: KeyObject): Buffer {
  const parts = decodeTiEciesCryptogram(cryptogram);
  const curve = tiEciesCurve(privateKey);
  if (!curve) throw new CmsError('invalid-input', 'TI-ECIES: our key is not an EC key on a TI curve');
  if (CURVE_BY_OID[parts.curveOid] !== curve) throw new CmsError('decrypt-failed', `TI-ECIES: cryptogram for curve ${parts.curveOid}, our key is on ${curve}`);
  const size = CURVES[curve]!.bytes;
  if (parts.po.length !== 1 + 2 * size || parts.po[0] !== 0x04) throw new CmsError('malformed', 'TI-ECIES: PO is not an uncompressed point of the curve');
  let peer: KeyObject;
  try {
    // Decoding the SPKI checks that the point lies on the curve (OpenSSL refuses it otherwise).
    peer = createPublicKey({ key: spkiOf(curve, parts.po), format: 'der', type: 'spki' });
  } catch {
    throw new CmsError('decrypt-failed', 'TI-ECIES: PO is not a point on the curve');
  }
  const kab = diffieHellman({ privateKey, publicKey: peer });
  const { kEnc, kMac } = deriveKeys(kab);
  try {
    const expected = cmac8(kMac, parts.c);
    if (!timingSafeEqual(expected, parts.t)) throw new CmsError('decrypt-failed', 'TI-ECIES: the CMAC does not match');
    const padded = cbc(false, kEnc, parts.c);
    const key = isoUnpad(padded);
    padded.fill(0);
    if (!key || (key.length !== 16 && key.length !== 24 && key.length !== 32)) throw new CmsError('decrypt-failed', 'TI-ECIES: the transport key could not be recovered');
    return key;
  } finally {
    kab.fill(0);
    kEnc.fill(0);
    kMac.fill(0);
  }
}

function deriveKeys(kab: Buffer): { kEnc: Buffer; kMac: Buffer } {
  const counter = (n: number): Buffer => Buffer.from([0, 0, 0, n]);
  return {
    kEnc: createHash('sha256').update(kab).update(counter(1)).digest(),
    kMac: createHash('sha256').update(kab).update(counter(2)).digest(),
  };
}

/** AES-256-CBC without padding of its own; the IV is AES-256(Kenc, 0^16) (gemSpec_COS: SSC 0 enciphered). */
function cbc(encrypt: boolean, kEnc: Buffer, data: Uint8Array): Buffer {
  const ivCipher = createCipheriv('aes-256-ecb', kEnc, null).setAutoPadding(false);
  const iv = ivCipher.update(Buffer.alloc(BLOCK));
  const c = encrypt ? createCipheriv('aes-256-cbc', kEnc, iv) : createDecipheriv('aes-256-cbc', kEnc, iv);
  c.setAutoPadding(false);
  const out = Buffer.concat([c.update(data), c.final()]);
  iv.fill(0);
  return out;
}

/**
 * AES-CMAC (NIST SP 800-38B, RFC 4493) over the ISO-padded message, cut to 8 octets. Written
 * here because node:crypto offers no CMAC (OpenSSL's EVP_MAC is not exposed); it is a few
 * lines over AES-ECB and is checked against RFC 4493's vectors and `openssl mac CMAC`.
 */
export function aesCmac(key: Uint8Array, message: Uint8Array): Buffer {
  const cipher = `aes-${key.length * 8}-ecb`;
  const ecb = (block: Uint8Array): Buffer => createCipheriv(cipher, key, null).setAutoPadding(false).update(block);
  const k1 = doubled(ecb(Buffer.alloc(BLOCK)));
  const k2 = doubled(k1);
  const blocks = Math.max(1, Math.ceil(message.length / BLOCK));
  const complete = message.length > 0 && message.length % BLOCK === 0;
  const last = Buffer.alloc(BLOCK);
  const lastStart = (blocks - 1) * BLOCK;
  last.set(message.subarray(lastStart));
  if (complete) xorInto(last, k1);
  else {
    last[message.length - lastStart] = 0x80;
    xorInto(last, k2);
  }
  let x = Buffer.alloc(BLOCK);
  // The blocks before the last, chained as CBC-MAC; one cipher object keeps its key schedule.
  if (blocks > 1) {
    const chain = createCipheriv(`aes-${key.length * 8}-cbc`, key, Buffer.alloc(BLOCK)).setAutoPadding(false);
    const out = chain.update(message.subarray(0, lastStart));
    x = Buffer.from(out.subarray(out.length - BLOCK));
  }
  xorInto(last, x);
  return ecb(last);
}

function cmac8(kMac: Buffer, c: Uint8Array): Buffer {
  return aesCmac(kMac, isoPad(c)).subarray(0, TAG_LENGTH);
}

/** Left shift by one bit with the GF(2^128) reduction (the CMAC subkey step). */
function doubled(block: Buffer): Buffer {
  const out = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) out[i] = ((block[i]! << 1) | (i + 1 < BLOCK ? block[i + 1]! >> 7 : 0)) & 0xff;
  if (block[0]! & 0x80) out[BLOCK - 1]! ^= 0x87;
  return out;
}

function xorInto(target: Buffer, other: Uint8Array): void {
  for (let i = 0; i < BLOCK; i++) target[i]! ^= other[i]!;
}

/** ISO/IEC 7816-4 padding: 0x80, then zeros to the next block boundary (always at least the 0x80). */
function isoPad(data: Uint8Array): Buffer {
  const out = Buffer.alloc((Math.floor(data.length / BLOCK) + 1) * BLOCK);
  out.set(data);
  out[data.length] = 0x80;
  return out;
}

/** The data before an ISO/IEC 7816-4 padding, or null when the padding is broken. */
function isoUnpad(data: Buffer): Buffer | null {
  let i = data.length - 1;
  while (i >= 0 && data[i] === 0) i--;
  if (i < 0 || data[i] !== 0x80 || data.length - i > BLOCK) return null;
  return Buffer.from(data.subarray(0, i));
}

/** The uncompressed point of an EC public key: the BIT STRING of its SPKI, after the unused-bits octet. */
function uncompressedPoint(key: KeyObject): Buffer {
  const spki = key.export({ type: 'spki', format: 'der' });
  const size = CURVES[tiEciesCurve(key)!]!.bytes;
  return spki.subarray(spki.length - (1 + 2 * size));
}

/** SubjectPublicKeyInfo for a point on a named curve (node cannot import brainpool points as JWK). */
function spkiOf(curve: string, point: Uint8Array): Buffer {
  return writeDer(
    derNode(TAG.sequence, [
      derNode(TAG.sequence, [derOid(OID.ecPublicKey), derOid(CURVES[curve]!.oid)]),
      derPrimitive(0x03, Buffer.concat([Buffer.of(0), point])),
    ]),
  );
}

// ---- the card-compatible encoding of (PO, C, T) ---------------------------------------------

/** [6] { OID, [APPLICATION 73] { [6] PO }, [6] '02' || C, [14] T } (gemSpec_Krypt's figure). */
export function encodeTiEciesCryptogram(p: TiEciesParts): Uint8Array {
  const poDo = writeDer(derPrimitive(TAG.contextPrimitive(6), p.po));
  // [APPLICATION 73] needs a two-octet tag (7F 49), which the DER writer does not write.
  const publicKeyDo = Buffer.concat([Buffer.of(0x7f, 0x49), lengthOctets(poDo.length), poDo]);
  return writeDer(
    derNode(TAG.contextConstructed(6), [
      derOid(p.curveOid),
      publicKeyDo,
      derPrimitive(TAG.contextPrimitive(6), Buffer.concat([Buffer.of(PADDING_INDICATOR), p.c])),
      derPrimitive(TAG.contextPrimitive(14), p.t),
    ]),
  );
}

/** Reads the (PO, C, T) structure; anything but exactly that layout is `malformed`. */
export function decodeTiEciesCryptogram(bytes: Uint8Array): TiEciesParts {
  const what = 'TI-ECIES cryptogram';
  let items: Tlv[];
  let root: Tlv;
  try {
    root = readBer(bytes, what, CARD_BER);
    if (!isTag(root, CLASS.context, 6, true)) throw new CmsError('malformed', `${what}: [6] expected`);
    items = childrenOf(root, what);
  } catch (err) {
    if (err instanceof CmsError) throw err;
    throw new CmsError('malformed', `${what}: ${(err as Error).message}`, { cause: err });
  }
  if (items.length !== 4) throw new CmsError('malformed', `${what}: 4 fields expected, got ${items.length}`);
  const [oidTlv, publicKeyDo, cTlv, tTlv] = items as [Tlv, Tlv, Tlv, Tlv];
  const curveOid = guardMalformed(what, () => expectOid(oidTlv, `${what} curve`));
  if (!CURVE_BY_OID[curveOid]) throw new CmsError('unsupported', `${what}: curve ${curveOid} is not one TI cards support`);
  if (!isTag(publicKeyDo, CLASS.application, 73, true)) throw new CmsError('malformed', `${what}: [APPLICATION 73] expected`);
  const inner = guardMalformed(what, () => childrenOf(publicKeyDo, what));
  if (inner.length !== 1 || !isTag(inner[0]!, CLASS.context, 6, false)) throw new CmsError('malformed', `${what}: [APPLICATION 73] must hold one [6] point`);
  const po = contentOf(inner[0]!, what);
  if (!isTag(cTlv, CLASS.context, 6, false)) throw new CmsError('malformed', `${what}: [6] ciphertext expected`);
  const cWithIndicator = contentOf(cTlv, what);
  if (cWithIndicator[0] !== PADDING_INDICATOR) throw new CmsError('malformed', `${what}: padding-content indicator 02 expected`);
  const c = cWithIndicator.subarray(1);
  if (c.length === 0 || c.length % BLOCK !== 0 || c.length > MAX_CIPHERTEXT) throw new CmsError('malformed', `${what}: ciphertext of ${c.length} octets`);
  if (!isTag(tTlv, CLASS.context, 14, false)) throw new CmsError('malformed', `${what}: [14] MAC expected`);
  const t = contentOf(tTlv, what);
  if (t.length !== TAG_LENGTH) throw new CmsError('malformed', `${what}: MAC of ${t.length} octets (8 expected)`);
  return { curveOid, po, c, t };
}

function isTag(tlv: Tlv, tagClass: number, tagNumber: number, constructed: boolean): boolean {
  return tlv.tagClass === tagClass && tlv.tagNumber === tagNumber && tlv.constructed === constructed;
}

function guardMalformed<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CmsError) throw err;
    throw new CmsError('malformed', `${what}: ${(err as Error).message}`, { cause: err });
  }
}

function lengthOctets(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  if (n < 0x100) return Buffer.of(0x81, n);
  return Buffer.of(0x82, n >> 8, n & 0xff);
}
