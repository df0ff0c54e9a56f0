import { createSelfSignedTls } from '../../src/crypto/index.js';
import { certificatesFrom } from '../../src/directory/index.js';

let certs: Buffer[] | undefined;

/** A few real DER certificates (self-signed RSA, ~0.8 KB) for entries' userCertificate. */
export async function testCertificates(n = 3): Promise<Buffer[]> {
  if (!certs || certs.length < n) {
    certs = [];
    for (let k = 0; k < n; k++) certs.push(certificatesFrom((await createSelfSignedTls([`cert${k}.test`])).cert)[0]!);
  }
  return certs.slice(0, n);
}

/** A generated VZD-like LDIF: `n` entries uid=e<k>, telematikID 1-<k>, one certificate each. */
export function* generatedLdif(n: number, cert: Buffer): Generator<string> {
  const b64 = cert.toString('base64').replace(/(.{75})/g, '$1\n ');
  yield 'version: 1\n\n';
  for (let k = 0; k < n; k++) {
    yield `dn: uid=e${k},dc=data,dc=vzd
objectClass: top
telematikID: 1-${k}
displayName: Praxis ${k % 1000} Nummer ${k}
sn: Name${k}
givenName: Vorname${k % 97}
localityName: Stadt${k % 50}
postalCode: ${10000 + (k % 9000)}
professionOID: 1.2.276.0.76.4.50
entryType: 3
mail: praxis${k}@anbieter.kim.telematik
komLeData: 1.5,praxis${k}@anbieter.kim.telematik
userCertificate;binary:: ${b64}

`;
  }
}
