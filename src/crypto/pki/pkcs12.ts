import { webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

/** PKI.js needs to be told which WebCrypto to use; Node's is the one. */
function engine(): pkijs.ICryptoEngine {
  return new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as ConstructorParameters<typeof pkijs.CryptoEngine>[0]['crypto'] });
}

const KEY_BAG = '1.2.840.113549.1.12.10.1.2'; // pkcs8ShroudedKeyBag
const PLAIN_KEY_BAG = '1.2.840.113549.1.12.10.1.1'; // keyBag
const CERT_BAG = '1.2.840.113549.1.12.10.1.3';
const LOCAL_KEY_ID = '1.2.840.113549.1.9.21';
const FRIENDLY_NAME = '1.2.840.113549.1.9.20';

function toArrayBuffer(u: Uint8Array): ArrayBuffer {
  return u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
}

function bagAttributes(localKeyId: Uint8Array, friendlyName: string): pkijs.Attribute[] {
  return [
    new pkijs.Attribute({ type: LOCAL_KEY_ID, values: [new asn1js.OctetString({ valueHex: toArrayBuffer(localKeyId) })] }),
    new pkijs.Attribute({ type: FRIENDLY_NAME, values: [new asn1js.BmpString({ value: friendlyName })] }),
  ];
}

/**
 * A PKCS#12 file with one key and its certificate chain: the key shrouded with PBES2
 * (PBKDF2-HMAC-SHA256, AES-256-CBC), the whole protected by an HMAC-SHA256 MAC — what
 * `openssl pkcs12` and current Windows/Java key stores read.
 */
/**
 * `encryptKey: false` (createCert without certPassword, AccountManager.yaml): the key goes in a
 * plain keyBag and the MAC is keyed with the empty password, which `openssl pkcs12 -passin pass:`
 * and key stores read as "no password".
 */
export async function createPkcs12(opts: { certDer: Uint8Array; chainDer?: Uint8Array[]; keyPkcs8Der: Uint8Array; password: string; friendlyName: string; encryptKey?: boolean }): Promise<Uint8Array> {
  const crypto = engine();
  const password = new TextEncoder().encode(opts.password);
  const localKeyId = new Uint8Array(await webcrypto.subtle.digest('SHA-1', opts.certDer));
  const keyInfo = pkijs.PrivateKeyInfo.fromBER(toArrayBuffer(opts.keyPkcs8Der));
  const encrypt = opts.encryptKey ?? true;
  const shrouded = encrypt ? new pkijs.PKCS8ShroudedKeyBag({ parsedValue: keyInfo }) : undefined;
  await shrouded?.makeInternalValues(
    { password: toArrayBuffer(password), contentEncryptionAlgorithm: { name: 'AES-CBC', length: 256 } as { name: string }, hmacHashAlgorithm: 'SHA-256', iterationCount: 100_000 },
    crypto,
  );
  const keyBag = shrouded
    ? new pkijs.SafeBag({ bagId: KEY_BAG, bagValue: shrouded, bagAttributes: bagAttributes(localKeyId, opts.friendlyName) })
    : new pkijs.SafeBag({ bagId: PLAIN_KEY_BAG, bagValue: keyInfo, bagAttributes: bagAttributes(localKeyId, opts.friendlyName) });
  const certBag = (der: Uint8Array, attrs?: pkijs.Attribute[]) =>
    new pkijs.SafeBag({ bagId: CERT_BAG, bagValue: new pkijs.CertBag({ parsedValue: pkijs.Certificate.fromBER(toArrayBuffer(der)) }), bagAttributes: attrs });
  const pfx = new pkijs.PFX({
    parsedValue: {
      integrityMode: 0,
      authenticatedSafe: new pkijs.AuthenticatedSafe({
        parsedValue: {
          safeContents: [
            { privacyMode: 0, value: new pkijs.SafeContents({ safeBags: [keyBag] }) },
            {
              privacyMode: 0,
              value: new pkijs.SafeContents({
                safeBags: [certBag(opts.certDer, bagAttributes(localKeyId, opts.friendlyName)), ...(opts.chainDer ?? []).map((c) => certBag(c))],
              }),
            },
          ],
        },
      }),
    },
  });
  await pfx.parsedValue!.authenticatedSafe!.makeInternalValues({ safeContents: [{}, {}] }, crypto);
  await pfx.makeInternalValues({ password: toArrayBuffer(password), iterations: 100_000, pbkdf2HashAlgorithm: 'SHA-256', hmacHashAlgorithm: 'SHA-256' }, crypto);
  return new Uint8Array(pfx.toSchema().toBER(false));
}
