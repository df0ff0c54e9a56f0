import 'reflect-metadata';
import { constants, createHash, verify, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { ADMISSION_OID, decodeAdmission } from '../../crypto/pki/index.js';

/**
 * The Account Manager's check of the JWT an Administrationsmodul sends (gemSpec_CM_KOMLE
 * A_19457-02; docs/kim-provider-apis.md): header alg PS256, typ JWT, x5c with the card's
 * C.HCI.AUT certificate; the signature (RSASSA-PSS over SHA-256 of header.payload, made by
 * the Konnektor's ExternalAuthenticate) verified with that certificate; the certificate
 * issued by a configured trust anchor and valid now; the times (nbf required, exp and iat when
 * present) within jwtExpiration; `aud`, when the token names one, one of the configured
 * audiences. What it yields is the Telematik-ID of the certificate, for the caller to hold
 * against the account's.
 */
export class JwtError extends Error {
  override readonly name = 'JwtError';
}

export interface JwtCheckOptions {
  readonly trustAnchors: readonly X509Certificate[];
  /** Unix seconds. */
  readonly now: number;
  /** jwtExpiration of the service information: the longest a token lives after its nbf. */
  readonly maxLifetimeSeconds: number;
  /** Tolerated clock difference to the Administrationsmodul's clock. */
  readonly clockSkewSeconds: number;
  /** Accepted `aud` values; a token without `aud` is accepted (A_19457-02 names none). */
  readonly audiences: readonly string[];
}

export interface CheckedJwt {
  readonly telematikId: string;
  readonly certDer: Uint8Array;
  /** Unix seconds after which the token is no longer accepted. */
  readonly expiresAt: number;
  /** Names this token for the replay check: the SHA-256 of its signature, hex. */
  readonly tokenId: string;
}

const B64URL = /^[A-Za-z0-9_-]*$/;
const MAX_TOKEN = 16 * 1024;

function part(s: string, what: string): Buffer {
  if (!B64URL.test(s)) throw new JwtError(`the JWT's ${what} is not base64url`);
  return Buffer.from(s, 'base64url');
}

function json(b: Buffer, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(b.toString('utf8'));
  } catch {
    throw new JwtError(`the JWT's ${what} is not JSON`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new JwtError(`the JWT's ${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

const num = (v: unknown, name: string, required: boolean): number | undefined => {
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new JwtError(`the JWT's ${name} ${v === undefined ? 'is missing' : 'is not a number (unix seconds)'}`);
  return v;
};

/** The Telematik-ID of a certificate's Admission extension (registrationNumber). */
export function telematikIdOf(der: Uint8Array): string | undefined {
  const ext = new x509.X509Certificate(der).getExtension(ADMISSION_OID);
  return (ext && decodeAdmission(new Uint8Array(ext.value))?.telematikId) || undefined;
}

/** What is known of one x5c certificate once it has been looked at: the same card signs call after call. */
interface KnownCertificate {
  cert: X509Certificate;
  validFrom: number;
  validTo: number;
  telematikId: string | undefined;
  /** The trust anchors `issued` was decided against (the list is replaced when they are reloaded). */
  anchors: readonly X509Certificate[];
  issued: boolean;
}

// Parsing the certificate (twice: node's and @peculiar's for the Admission), checking its
// issuer's signature and decoding the Telematik-ID were most of a call's CPU in bench:provider;
// they depend on the certificate's bytes alone. Bounded: the oldest entry goes first.
const KNOWN_MAX = 1024;
const known = new Map<string, KnownCertificate>();

function knownCertificate(b64: string, anchors: readonly X509Certificate[]): KnownCertificate {
  let k = known.get(b64);
  if (k && k.anchors === anchors) return k;
  const certDer = new Uint8Array(Buffer.from(b64, 'base64'));
  let cert: X509Certificate;
  try {
    cert = k?.cert ?? new X509Certificate(certDer);
  } catch {
    throw new JwtError("the JWT's x5c[0] is not a certificate");
  }
  k = {
    cert,
    validFrom: Date.parse(cert.validFrom),
    validTo: Date.parse(cert.validTo),
    telematikId: k?.telematikId ?? telematikIdOf(certDer),
    anchors,
    issued: anchors.some((a) => cert.checkIssued(a) && cert.verify(a.publicKey)),
  };
  if (known.size >= KNOWN_MAX) known.delete(known.keys().next().value!);
  known.set(b64, k);
  return k;
}

export function checkAccountManagerJwt(token: string, o: JwtCheckOptions): CheckedJwt {
  if (token.length > MAX_TOKEN) throw new JwtError('the JWT is too long');
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwtError('the JWT is not in compact serialization (header.payload.signature)');
  const [h, p, s] = parts as [string, string, string];
  const header = json(part(h, 'header'), 'header');
  const claims = json(part(p, 'payload'), 'payload');
  const signature = part(s, 'signature');
  if (header['alg'] !== 'PS256') throw new JwtError(`the JWT's alg is ${JSON.stringify(header['alg'])}, PS256 expected (A_19457-02)`);
  if (header['typ'] !== undefined && header['typ'] !== 'JWT') throw new JwtError(`the JWT's typ is ${JSON.stringify(header['typ'])}, JWT expected`);
  const x5c = header['x5c'];
  if (!Array.isArray(x5c) || x5c.length === 0 || typeof x5c[0] !== 'string') throw new JwtError("the JWT's header has no x5c with the AUT certificate");
  const k = knownCertificate(x5c[0], o.trustAnchors);
  // The signature first: nothing else of an unsigned token is worth judging.
  const ok = verify('sha256', Buffer.from(`${h}.${p}`, 'ascii'), { key: k.cert.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature);
  if (!ok) throw new JwtError("the JWT's signature does not verify with the certificate in x5c");
  if (!k.issued) throw new JwtError("the certificate in x5c is not issued by a trusted CA");
  const nowMs = o.now * 1000;
  if (nowMs < k.validFrom || nowMs > k.validTo) throw new JwtError('the certificate in x5c is not valid now');

  const nbf = num(claims['nbf'], 'nbf', true)!;
  const exp = num(claims['exp'], 'exp', false);
  const iat = num(claims['iat'], 'iat', false);
  const skew = o.clockSkewSeconds;
  if (nbf > o.now + skew) throw new JwtError('the JWT is not valid yet (nbf)');
  if (iat !== undefined && iat > o.now + skew) throw new JwtError('the JWT was issued in the future (iat)');
  const expiresAt = Math.min(exp ?? Infinity, nbf + o.maxLifetimeSeconds, (iat ?? Infinity) + o.maxLifetimeSeconds);
  if (o.now - skew > expiresAt) throw new JwtError(`the JWT has expired (at most jwtExpiration ${o.maxLifetimeSeconds} s after nbf)`);
  const aud = claims['aud'];
  if (aud !== undefined) {
    const list = Array.isArray(aud) ? aud : [aud];
    if (!list.every((a) => typeof a === 'string')) throw new JwtError("the JWT's aud is not a string or a list of strings");
    if (!list.some((a) => o.audiences.includes(a as string))) throw new JwtError("the JWT's aud names another service");
  }
  const telematikId = k.telematikId;
  const certDer = new Uint8Array(k.cert.raw);
  if (!telematikId) throw new JwtError('the certificate in x5c carries no Telematik-ID (Admission)');
  return { telematikId, certDer, expiresAt, tokenId: createHash('sha256').update(signature).digest('hex') };
}
