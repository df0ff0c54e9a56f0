import { X509Certificate } from 'node:crypto';
import { createSecureContext, getCiphers, type ConnectionOptions, type SecureContextOptions } from 'node:tls';

/**
 * The TLS profile of the TI, the one place every listener and every client takes its TLS
 * parameters from (gemSpec_Krypt GS-A_4384-01, A_17124-01; for the client module
 * KOM-LE-A_2064-02, which also admits BSI TR-02102-2 section 3.3):
 * - TLS 1.2 at least, TLS 1.3 beside;
 * - ECDHE over X25519, P-256, P-384, brainpoolP256r1, brainpoolP384r1 (tls.ecdhCurves);
 * - TLS 1.2 suites of TR-02102-2 only, ECDSA before RSA (tls.ciphers12), so a server holding an
 *   RSA and an ECC certificate uses the ECC one whenever the client can take it, and our
 *   clients ask for ECC first (A_17239).
 *
 * Why the curves are listed at all: Node's default `ecdhCurve: 'auto'` is OpenSSL's default
 * group list, which has no brainpool curve. A brainpool certificate then finds "no shared
 * cipher", and a client offering only brainpool gets a non-ECDHE RSA suite or nothing. An
 * explicit list (SSL_CTX_set1_groups_list) is what turns brainpool on, for servers and clients.
 *
 * The profile is per process: the roles set it from config.tls when they start (useTlsProfile)
 * and every context made after that uses it; until then the defaults hold.
 */
export interface TlsProfile {
  /** OpenSSL group names, in order of preference. */
  ecdhCurves: readonly string[];
  /** OpenSSL names of the TLS 1.2 cipher suites, in order of preference. */
  ciphers12: readonly string[];
  /**
   * Whether a listener whose only certificates are brainpool ones offers TLS 1.3 (tls.brainpoolTls13,
   * default false; see signsTls13). Only where this OpenSSL has RFC 8734's signature schemes.
   */
  brainpoolTls13?: boolean;
}

/**
 * OpenSSL 3.2 and later name brainpool for TLS 1.3 apart (RFC 8734: brainpoolP256r1tls13, a
 * group id of its own); 3.0, which Node 20 ships, knows only the TLS 1.2 ones and refuses the
 * other names. Whether this OpenSSL has them is asked once, by trying.
 */
const accepts = (opts: SecureContextOptions): boolean => {
  try {
    createSecureContext(opts);
    return true;
  } catch {
    return false;
  }
};
const BRAINPOOL_TLS13_GROUPS = ['brainpoolP256r1tls13', 'brainpoolP384r1tls13'].filter((g) => accepts({ ecdhCurve: g }));
/** Whether this OpenSSL can sign a TLS 1.3 handshake with a brainpool key (RFC 8734 signature schemes). */
export const BRAINPOOL_TLS13_SIGNATURES = ['ecdsa_brainpoolP256r1tls13_sha256', 'ecdsa_brainpoolP256r1_sha256'].some((s) => accepts({ sigalgs: s }));

/** The TI's curves with X25519 first (the usual choice of TLS 1.3 clients), brainpool for TLS 1.3 where OpenSSL has it. */
export const DEFAULT_ECDH_CURVES: readonly string[] = ['X25519', 'P-256', 'P-384', 'brainpoolP256r1', 'brainpoolP384r1', ...BRAINPOOL_TLS13_GROUPS];

/** GS-A_4384-01 (ECDHE_RSA) and A_17124-01 (ECDHE_ECDSA) with AES-GCM; ECDSA first for A_17239. */
export const DEFAULT_CIPHERS_12: readonly string[] = ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384'];

/**
 * The TLS 1.2 suites tls.ciphers12 may name: those of BSI TR-02102-2 (2024) section 3.3.1 with
 * a certificate-based key exchange that Node's OpenSSL has — ephemeral (EC)DH only, AES in GCM,
 * CCM or CBC with SHA-256/384. Anything else (AES128-SHA's static RSA key exchange, SHA-1 MACs)
 * would undercut the profile, so it is a config error rather than a silent weakening.
 */
export const TR_02102_2_CIPHERS_12: readonly string[] = [
  ...DEFAULT_CIPHERS_12,
  'ECDHE-ECDSA-AES128-SHA256',
  'ECDHE-ECDSA-AES256-SHA384',
  'ECDHE-ECDSA-AES128-CCM',
  'ECDHE-ECDSA-AES256-CCM',
  'ECDHE-RSA-AES128-SHA256',
  'ECDHE-RSA-AES256-SHA384',
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
  'DHE-RSA-AES128-SHA256',
  'DHE-RSA-AES256-SHA256',
  'DHE-RSA-AES128-CCM',
  'DHE-RSA-AES256-CCM',
];

/**
 * TLS 1.3 suites of TR-02102-2 (AES-GCM; ChaCha20 is not among them). Node sets 1.3 suites
 * through the same `ciphers` string (the TLS_ names); naming them keeps OpenSSL's default
 * TLS_CHACHA20_POLY1305_SHA256 out.
 */
export const CIPHERS_13: readonly string[] = ['TLS_AES_256_GCM_SHA384', 'TLS_AES_128_GCM_SHA256'];

export const DEFAULT_TLS_PROFILE: TlsProfile = { ecdhCurves: DEFAULT_ECDH_CURVES, ciphers12: DEFAULT_CIPHERS_12, brainpoolTls13: false };

const KNOWN_CIPHERS = new Set(getCiphers());

/** What is wrong with a profile, as `key: message` pairs for the config loader (empty: nothing). */
export function tlsProfileProblems(p: TlsProfile): Array<{ key: 'ecdhCurves' | 'ciphers12'; index?: number; message: string }> {
  const out: Array<{ key: 'ecdhCurves' | 'ciphers12'; index?: number; message: string }> = [];
  if (p.ecdhCurves.length === 0) out.push({ key: 'ecdhCurves', message: 'name at least one curve (default: ' + DEFAULT_ECDH_CURVES.join(', ') + ')' });
  p.ecdhCurves.forEach((c, index) => {
    // 'auto' is a valid OpenSSL setting, but the one that leaves brainpool out.
    if (c.toLowerCase() === 'auto') out.push({ key: 'ecdhCurves', index, message: 'auto is OpenSSL\'s default list, which has no brainpool curve; name the curves' });
    else if (c.includes(':') || !accepts({ ecdhCurve: c })) out.push({ key: 'ecdhCurves', index, message: `${JSON.stringify(c)} is not a curve this OpenSSL (${process.versions.openssl}) knows; e.g. ${DEFAULT_ECDH_CURVES.join(', ')}` });
  });
  if (p.ciphers12.length === 0) out.push({ key: 'ciphers12', message: 'name at least one cipher suite (default: ' + DEFAULT_CIPHERS_12.join(', ') + ')' });
  p.ciphers12.forEach((c, index) => {
    const allowed = TR_02102_2_CIPHERS_12.find((a) => a.toLowerCase() === c.toLowerCase());
    if (!allowed) out.push({ key: 'ciphers12', index, message: `${JSON.stringify(c)} is not a TLS 1.2 cipher suite of BSI TR-02102-2 (OpenSSL names: ${TR_02102_2_CIPHERS_12.join(', ')})` });
    else if (!KNOWN_CIPHERS.has(allowed.toLowerCase())) out.push({ key: 'ciphers12', index, message: `${allowed} is not available in this OpenSSL (${process.versions.openssl})` });
  });
  return out;
}

let active: TlsProfile = DEFAULT_TLS_PROFILE;

/** Sets the process's profile (from config.tls, validated at load); contexts made before keep theirs. */
export function useTlsProfile(p: TlsProfile): void {
  const problems = tlsProfileProblems(p);
  if (problems.length) throw new Error(`tls: ${problems.map((x) => x.message).join('; ')}`);
  active = { ecdhCurves: [...p.ecdhCurves], ciphers12: [...p.ciphers12], brainpoolTls13: p.brainpoolTls13 === true };
}

export function activeTlsProfile(): TlsProfile {
  return active;
}

/** The options both sides share: versions, curves, suites. */
function commonOptions(p: TlsProfile): Pick<SecureContextOptions, 'minVersion' | 'ecdhCurve' | 'ciphers'> {
  return { minVersion: 'TLSv1.2', ecdhCurve: p.ecdhCurves.join(':'), ciphers: [...CIPHERS_13, ...p.ciphers12].join(':') };
}

/** For tls.connect and ldapts' tlsOptions: our side of every outgoing TLS connection. */
export function clientTlsProfile(p: TlsProfile = active): Pick<ConnectionOptions, 'minVersion' | 'ecdhCurve' | 'ciphers'> {
  return commonOptions(p);
}

/** A server certificate and key (PEM), with an optional second one of the other key type. */
export interface ServerPem {
  cert: string;
  key: string;
  /** An ECC pair beside an RSA `cert`/`key` (tls.eccCert/tls.eccKey): OpenSSL keeps one of each type and picks per handshake. */
  ecc?: { cert: string; key: string };
}

/** The curve of a certificate's EC key, or undefined for RSA and others. */
export function certificateCurve(certPem: string): string | undefined {
  const key = new X509Certificate(certPem).publicKey;
  return key.asymmetricKeyType === 'ec' ? key.asymmetricKeyDetails?.namedCurve : undefined;
}

/**
 * Whether a certificate may sign TLS 1.3 handshakes here. TLS 1.3 binds an ECDSA signature to
 * the curve (ecdsa_secp256r1_sha256, …); for brainpool that takes RFC 8734's schemes
 * (ecdsa_brainpoolP256r1tls13_sha256, …). OpenSSL 3.0 (Node 20) has none. OpenSSL 3.2 and later
 * (Node 24: 3.5) have them, but a client without them — OpenSSL 3.0 and most TLS stacks in the
 * field — that offers TLS 1.3 as well is taken into 1.3 by the server's version choice and then
 * refused there ("no suitable signature algorithm", alert 40): OpenSSL chooses the version
 * before the signature and never falls back to 1.2. So a brainpool certificate signs TLS 1.3
 * only where the operator says its clients have RFC 8734 (tls.brainpoolTls13) and OpenSSL can.
 */
function signsTls13(certPem: string, p: TlsProfile): boolean {
  if (!certificateCurve(certPem)?.startsWith('brainpool')) return true;
  return BRAINPOOL_TLS13_SIGNATURES && p.brainpoolTls13 === true;
}

/**
 * createSecureContext options for a listener: the profile, the server's order of suites (so
 * ECDSA wins where the client allows it, A_17239), and the certificates. When no certificate
 * may sign TLS 1.3 (a brainpool certificate alone, unless tls.brainpoolTls13 on OpenSSL 3.2+)
 * TLS 1.2 is the maximum: a client offering 1.3 would otherwise be taken into 1.3 and fail
 * there, where it would have been served in 1.2.
 */
export function serverContextOptions(pem: ServerPem, p: TlsProfile = active): SecureContextOptions {
  const pairs = [{ cert: pem.cert, key: pem.key }, ...(pem.ecc ? [pem.ecc] : [])];
  const tls13 = pairs.some((x) => signsTls13(x.cert, p));
  return {
    ...commonOptions(p),
    ...(tls13 ? {} : { maxVersion: 'TLSv1.2' as const }),
    honorCipherOrder: true,
    cert: pairs.map((x) => x.cert),
    key: pairs.map((x) => x.key),
  };
}
