import { createPrivateKey, createPublicKey, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import * as pkijs from 'pkijs';

const KEY_BAG = '1.2.840.113549.1.12.10.1.2'; // pkcs8ShroudedKeyBag
const PLAIN_KEY_BAG = '1.2.840.113549.1.12.10.1.1'; // keyBag
const CERT_BAG = '1.2.840.113549.1.12.10.1.3';

export interface Pkcs12Contents {
  /** The certificate belonging to the private key (DER). */
  readonly certDer: Uint8Array;
  /** The other certificates in the file (CA chain), DER. */
  readonly chainDer: Uint8Array[];
  readonly privateKey: KeyObject;
}

/** Why a PKCS#12 file could not be read: the password (MAC or decryption) or the file itself. */
export class Pkcs12Error extends Error {
  constructor(
    readonly reason: 'password' | 'format',
    message: string,
  ) {
    super(message);
    this.name = 'Pkcs12Error';
  }
}

function engine(): pkijs.ICryptoEngine {
  return new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as ConstructorParameters<typeof pkijs.CryptoEngine>[0]['crypto'] });
}

function toArrayBuffer(u: Uint8Array): ArrayBuffer {
  return u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
}

/**
 * Reads a password-integrity PKCS#12 file with one private key (as `postamt pki init` and
 * `openssl pkcs12 -export` write them: PBES2 key bags, HMAC MAC). The MAC is checked first, so a
 * wrong password is reported as such rather than as garbage.
 */
export async function readPkcs12(bytes: Uint8Array, password: string): Promise<Pkcs12Contents> {
  const crypto = engine();
  const pw = toArrayBuffer(new TextEncoder().encode(password));
  let pfx: pkijs.PFX;
  try {
    pfx = pkijs.PFX.fromBER(toArrayBuffer(bytes));
  } catch (err) {
    throw new Pkcs12Error('format', `not a PKCS#12 file (${err instanceof Error ? err.message : String(err)})`);
  }
  try {
    await pfx.parseInternalValues({ password: pw, checkIntegrity: true }, crypto);
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    throw new Pkcs12Error(/integrity|mac|password/i.test(text) ? 'password' : 'format', `PKCS#12: ${text}`);
  }
  const safe = pfx.parsedValue?.authenticatedSafe;
  if (!safe) throw new Pkcs12Error('format', 'PKCS#12: only password integrity mode is supported');
  try {
    await safe.parseInternalValues({ safeContents: safe.safeContents.map(() => ({ password: pw })) }, crypto);
  } catch (err) {
    throw new Pkcs12Error('password', `PKCS#12 contents: ${err instanceof Error ? err.message : String(err)}`);
  }
  const certs: Uint8Array[] = [];
  const keys: KeyObject[] = [];
  for (const content of safe.parsedValue?.safeContents ?? []) {
    for (const bag of (content.value as pkijs.SafeContents).safeBags) {
      if (bag.bagId === CERT_BAG) {
        const parsed = (bag.bagValue as pkijs.CertBag).parsedValue;
        if (parsed instanceof pkijs.Certificate) certs.push(new Uint8Array(parsed.toSchema().toBER(false)));
      } else if (bag.bagId === KEY_BAG) {
        // The bag is an EncryptedPrivateKeyInfo (PBES2): node decrypts that natively.
        const encrypted = Buffer.from((bag.bagValue as pkijs.PKCS8ShroudedKeyBag).toSchema().toBER(false));
        try {
          keys.push(createPrivateKey({ key: encrypted, format: 'der', type: 'pkcs8', passphrase: password }));
        } catch (err) {
          throw new Pkcs12Error('password', `PKCS#12 key bag: ${err instanceof Error ? err.message : String(err)}`);
        }
      } else if (bag.bagId === PLAIN_KEY_BAG) {
        keys.push(pkcs8Key(new Uint8Array((bag.bagValue as pkijs.PrivateKeyInfo).toSchema().toBER(false))));
      }
    }
  }
  if (keys.length !== 1) throw new Pkcs12Error('format', `PKCS#12 holds ${keys.length} private keys (one expected)`);
  const privateKey = keys[0]!;
  const pub = createPublicKey(privateKey);
  const own = certs.findIndex((c) => new X509Certificate(c).publicKey.equals(pub));
  if (own < 0) throw new Pkcs12Error('format', 'PKCS#12 holds no certificate for its private key');
  return { certDer: certs[own]!, chainDer: certs.filter((_c, i) => i !== own), privateKey };
}

function pkcs8Key(der: Uint8Array): KeyObject {
  try {
    return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new Pkcs12Error('format', `PKCS#12 key: ${err instanceof Error ? err.message : String(err)}`);
  }
}
