import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { pemBlocks, readPkcs12, Pkcs12Error } from '../pki/index.js';
import { cryptOf, type CardKey, type CardLoader, type SoftwareCard } from './card.js';
import { KonnektorError } from './errors.js';

/** A key and its certificate on disk: a PKCS#12 file, or PEM certificate + PEM private key. */
export type KeySource = { readonly p12: string; readonly password: string } | { readonly cert: string; readonly key: string; readonly password?: string };

/**
 * A card as files. `dir` is a practice directory as `postamt pki init` writes it: osig.pem/.key
 * and enc.pem/.key (RSA), osig-ecc.pem/.key and enc-ecc.pem/.key (ECC), aut.pem/.key (C.HCI.AUT), whichever exist;
 * `signature` and `encryption` name files explicitly and take precedence. Each key is filed
 * under its kind (RSA or ECC) by what it is, not by its name.
 */
export interface CardFiles {
  readonly dir?: string;
  readonly signature?: KeySource | readonly KeySource[];
  readonly encryption?: KeySource | readonly KeySource[];
  /** The C.HCI.AUT key (RSA); default with `dir`: aut.pem/aut.key when they exist. */
  readonly authentication?: KeySource;
}

const list = (v: KeySource | readonly KeySource[] | undefined): readonly KeySource[] => (v === undefined ? [] : Array.isArray(v) ? v : [v as KeySource]);

/** The pairs of a practice directory that exist (RSA first, then ECC). */
function dirSources(dir: string, names: readonly string[]): KeySource[] {
  return names.filter((n) => existsSync(join(dir, `${n}.pem`)) || existsSync(join(dir, `${n}.key`))).map((n) => ({ cert: join(dir, `${n}.pem`), key: join(dir, `${n}.key`) }));
}

const under = (baseDir: string, path: string): string => (isAbsolute(path) ? path : resolve(baseDir, path));

/** A CardLoader over files; relative paths are taken from `baseDir` (the data directory). */
export function cardLoaderFromFiles(spec: CardFiles, baseDir: string): CardLoader {
  return async (): Promise<SoftwareCard> => {
    const dir = spec.dir === undefined ? undefined : under(baseDir, spec.dir);
    const sigList = spec.signature !== undefined ? list(spec.signature) : dir ? dirSources(dir, ['osig', 'osig-ecc']) : [];
    const encList = spec.encryption !== undefined ? list(spec.encryption) : dir ? dirSources(dir, ['enc', 'enc-ecc']) : [];
    // A directory without any of the files is a card that is not there (as before: osig.pem named in the error).
    if (dir && spec.signature === undefined && spec.encryption === undefined && sigList.length + encList.length === 0) {
      await loadKeySource({ cert: join(dir, 'osig.pem'), key: join(dir, 'osig.key') }, baseDir);
    }
    const signatures = await Promise.all(sigList.map((s) => loadKeySource(s, baseDir)));
    const encryption = await Promise.all(encList.map((s) => loadKeySource(s, baseDir)));
    const autSource = spec.authentication ?? (dir ? dirSources(dir, ['aut'])[0] : undefined);
    const authentication = autSource ? await loadKeySource(autSource, baseDir) : undefined;
    if (authentication && cryptOf(authentication) !== 'RSA') throw new KonnektorError('card-not-found', 'the C.HCI.AUT key of a card must be RSA here (ExternalAuthenticate signs RSASSA-PSS)');
    const byKind = (kind: 'RSA' | 'ECC') => signatures.filter((k) => cryptOf(k) === kind);
    for (const kind of ['RSA', 'ECC'] as const) {
      if (byKind(kind).length > 1) throw new KonnektorError('card-not-found', `a card holds one ${kind} signature key, ${byKind(kind).length} are configured`);
    }
    return { signature: byKind('RSA')[0], signatureEcc: byKind('ECC')[0], encryption, ...(authentication ? { authentication } : {}) };
  };
}

/** Reads one key source; missing files are `card-not-found`, a wrong password `key-not-available`. */
export async function loadKeySource(source: KeySource, baseDir: string): Promise<CardKey> {
  if ('p12' in source) {
    const path = under(baseDir, source.p12);
    try {
      const p12 = await readPkcs12(await readOrMissing(path), source.password);
      return { certDer: p12.certDer, privateKey: p12.privateKey };
    } catch (err) {
      if (err instanceof Pkcs12Error) {
        throw new KonnektorError(err.reason === 'password' ? 'key-not-available' : 'card-not-found', `${path}: ${err.message}`, { cause: err });
      }
      throw err;
    }
  }
  const certPath = under(baseDir, source.cert);
  const keyPath = under(baseDir, source.key);
  const certDer = firstCertificate(await readOrMissing(certPath), certPath);
  const keyText = (await readOrMissing(keyPath)).toString('utf8');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: keyText, format: 'pem', ...(source.password === undefined ? {} : { passphrase: source.password }) });
  } catch (err) {
    throw new KonnektorError('key-not-available', `${keyPath}: private key cannot be read (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  if (!new X509Certificate(certDer).publicKey.equals(createPublicKey(privateKey))) {
    throw new KonnektorError('key-not-available', `${keyPath} does not belong to the certificate ${certPath}`);
  }
  return { certDer, privateKey };
}

/**
 * A key given by one path, as the CLI takes it: a directory (practice dir of the test PKI; the
 * `use` picks osig or enc), a .p12/.pfx file, or a PEM key whose certificate is `certPath` or
 * lies beside it (`enc.key` → `enc.pem`).
 */
export async function loadKeyPath(path: string, opts: { password?: string; certPath?: string; use: 'signature' | 'encryption'; crypt?: 'RSA' | 'ECC' }): Promise<CardKey> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new KonnektorError('card-not-found', `${path}: no such file or directory`);
  if (info.isDirectory()) {
    const name = (opts.use === 'signature' ? 'osig' : 'enc') + (opts.crypt === 'ECC' ? '-ecc' : '');
    return loadKeySource({ cert: join(path, `${name}.pem`), key: join(path, `${name}.key`), password: opts.password }, '.');
  }
  const ext = extname(path).toLowerCase();
  if (ext === '.p12' || ext === '.pfx') {
    if (opts.password === undefined) throw new KonnektorError('key-not-available', `${path}: a PKCS#12 file needs a password`);
    return loadKeySource({ p12: path, password: opts.password }, '.');
  }
  const cert = opts.certPath ?? join(dirname(path), `${basename(path, extname(path))}.pem`);
  return loadKeySource({ cert, key: path, password: opts.password }, '.');
}

/** Every certificate in a PEM (one or many) or DER file, as DER. */
export function readCertificateFile(path: string): Uint8Array[] {
  const bytes = readFileSync(path);
  const pems = pemBlocks(bytes.toString('latin1'), 'CERTIFICATE');
  return pems.length > 0 ? pems : [new Uint8Array(bytes)];
}

function firstCertificate(bytes: Buffer, path: string): Uint8Array {
  const pems = pemBlocks(bytes.toString('latin1'), 'CERTIFICATE');
  const der = pems[0] ?? new Uint8Array(bytes);
  try {
    new X509Certificate(der);
  } catch (err) {
    throw new KonnektorError('card-not-found', `${path}: not a certificate (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  return der;
}

async function readOrMissing(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new KonnektorError('card-not-found', `${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
}
