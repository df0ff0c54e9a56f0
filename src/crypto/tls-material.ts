import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate, createPublicKey } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { Config } from '../config/index.js';
import { inDataDir } from '../config/index.js';
import { UsageError, errorMessage } from '../core/index.js';
import { serverContextOptions, type ServerPem } from '../core/tls-profile.js';
import { createSelfSignedTls, fingerprint, type PemPair } from './selfsigned.js';

export interface TlsMaterial extends PemPair, ServerPem {
  /** 'configured' when from config, 'generated' when self-signed into the data directory. */
  origin: 'configured' | 'generated';
  fingerprint: string;
  certPath: string;
  /** The ECC pair beside an RSA one (tls.eccCert/tls.eccKey), with its own fingerprint. */
  ecc?: PemPair & { fingerprint: string; certPath: string };
}

/** The curves gemSpec_Krypt names for ECC certificates (A_17124-01), as node reports them. */
const TLS_CERT_CURVES = ['prime256v1', 'secp384r1', 'brainpoolP256r1', 'brainpoolP384r1'];

/** Reads a configured PEM pair; its key type must be RSA or EC on one of the TI's curves. */
function readPair(config: Config, names: [string, string], paths: [string, string]): PemPair & { certPath: string; type: 'rsa' | 'ec' } {
  const [certPath, keyPath] = [inDataDir(config, paths[0]), inDataDir(config, paths[1])];
  for (const [name, p] of [[names[0], certPath], [names[1], keyPath]] as const) {
    if (!existsSync(p)) throw new UsageError(`${name}: file ${p} does not exist`);
  }
  const pair = { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  let pub;
  try {
    pub = new X509Certificate(pair.cert).publicKey;
  } catch (err) {
    throw new UsageError(`${names[0]}: ${certPath} is not a PEM certificate: ${errorMessage(err)}`);
  }
  const type = pub.asymmetricKeyType;
  const curve = pub.asymmetricKeyDetails?.namedCurve;
  if (type === 'ec' && !TLS_CERT_CURVES.includes(curve ?? '')) throw new UsageError(`${names[0]}: the certificate's curve ${curve} is none of P-256, P-384, brainpoolP256r1, brainpoolP384r1`);
  if (type !== 'ec' && type !== 'rsa') throw new UsageError(`${names[0]}: the certificate's key is ${type}; RSA or ECC (P-256, P-384, brainpool) is needed`);
  // OpenSSL checks a key only against the certificate of its own type: an RSA key beside an ECC
  // certificate would go unnoticed until the first handshake fails.
  let fits = false;
  try {
    fits = createPublicKey(pair.key).export({ type: 'spki', format: 'der' }).equals(pub.export({ type: 'spki', format: 'der' }));
  } catch (err) {
    throw new UsageError(`${names[1]}: ${keyPath} is not a PEM private key: ${errorMessage(err)}`);
  }
  if (!fits) throw new UsageError(`${names[1]}: ${keyPath} is not the key of the certificate ${certPath}`);
  return { ...pair, certPath, type };
}

/** Builds the listeners' context once now, so a key that does not fit its certificate stops the start with the file names. */
function checkContext(config: Config, pem: ServerPem, what: string): void {
  try {
    createSecureContext(serverContextOptions(pem, config.tls));
  } catch (err) {
    throw new UsageError(`${what}: ${errorMessage(err)}`);
  }
}

/** The TLS certificate the listeners use: from config (RSA, ECC or both), or self-signed once and kept. */
export async function loadTlsMaterial(config: Config, hostnames: string[]): Promise<TlsMaterial> {
  const { cert, key, eccCert, eccKey } = config.tls;
  if (cert || key) {
    if (!cert || !key) throw new UsageError('tls: set both tls.cert and tls.key, or neither');
    const main = readPair(config, ['tls.cert', 'tls.key'], [cert, key]);
    checkContext(config, main, 'tls.cert/tls.key');
    const material: TlsMaterial = { cert: main.cert, key: main.key, origin: 'configured', fingerprint: fingerprint(main.cert), certPath: main.certPath };
    if (eccCert && eccKey) {
      const ecc = readPair(config, ['tls.eccCert', 'tls.eccKey'], [eccCert, eccKey]);
      // OpenSSL keeps one certificate per key type: a second of the same type would replace the first unseen.
      if (ecc.type !== 'ec') throw new UsageError('tls.eccCert: the certificate is not an ECC one');
      if (main.type !== 'rsa') throw new UsageError('tls.cert: with tls.eccCert beside it, tls.cert must be the RSA certificate');
      material.ecc = { cert: ecc.cert, key: ecc.key, fingerprint: fingerprint(ecc.cert), certPath: ecc.certPath };
      checkContext(config, material, 'tls.cert/tls.key with tls.eccCert/tls.eccKey');
    }
    return material;
  }
  const dir = join(config.dataDir, 'tls');
  const certPath = join(dir, 'selfsigned.crt');
  const keyPath = join(dir, 'selfsigned.key');
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const pair = await createSelfSignedTls([...new Set(hostnames)]);
    writeFileSync(keyPath, pair.key, { mode: 0o600 });
    writeFileSync(certPath, pair.cert);
  }
  const pair = { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  return { ...pair, origin: 'generated', fingerprint: fingerprint(pair.cert), certPath };
}
