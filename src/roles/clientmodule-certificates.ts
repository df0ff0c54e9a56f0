import { readFileSync } from 'node:fs';
import { inDataDir, type Config } from '../config/index.js';
import { UsageError } from '../core/index.js';
import { readPkcs12, toPem } from '../crypto/index.js';
import { clientCertificateFor, type ClientCertificate, type ClientCertificateFor } from '../clientmodule/index.js';

/**
 * The client module's TLS client certificates towards the mail service (KOM-LE-A_2182-01):
 * the PKCS#12 files createCert handed out, unpacked at start (gemSpec_CM_KOMLE: the client
 * module unpacks them itself), per account and for the provider. A file that cannot be read
 * fails the start, naming the key; the password never appears in the message.
 */
export async function loadClientModuleCertificates(config: Config): Promise<ClientCertificateFor | undefined> {
  const cm = config.clientModule;
  const load = async (key: string, f: { p12: string; password: string }): Promise<ClientCertificate> => {
    const path = inDataDir(config, f.p12);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw new UsageError(`${key}.p12: ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    try {
      const p = await readPkcs12(bytes, f.password);
      // The leaf only: the service has the CA it trusts.
      return { cert: toPem(p.certDer, 'CERTIFICATE'), key: p.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    } catch (err) {
      throw new UsageError(`${key}.p12: ${path} is not a usable PKCS#12 file: ${(err as Error).message}`);
    }
  };
  const perAccount = new Map<string, ClientCertificate>();
  for (const [i, a] of cm.accounts.entries()) if (a.clientCertificate) perAccount.set(a.address, await load(`clientModule.accounts[${i}].clientCertificate`, a.clientCertificate));
  const fallback = cm.upstream.clientCertificate ? await load('clientModule.upstream.clientCertificate', cm.upstream.clientCertificate) : undefined;
  return perAccount.size > 0 || fallback ? clientCertificateFor(perAccount, fallback) : undefined;
}
