/**
 * A_17464: a Konnektor can do ECC when its service directory lists SignatureService at least
 * 7.4.1 and EncryptionService at least 6.1.1. The client module asks this before it uses an ECC
 * certificate at all (A_17472) — a SOAP Konnektor reads the versions from connector.sds, the
 * software Konnektor reports what its configuration says.
 */
export interface KonnektorServiceVersions {
  readonly signatureService: string;
  readonly encryptionService: string;
}

export const ECC_MINIMUM: KonnektorServiceVersions = { signatureService: '7.4.1', encryptionService: '6.1.1' };

export function eccCapable(v: KonnektorServiceVersions): boolean {
  return atLeast(v.signatureService, ECC_MINIMUM.signatureService) && atLeast(v.encryptionService, ECC_MINIMUM.encryptionService);
}

/** Dotted version comparison; a missing part counts as 0, anything not a number makes it false. */
export function atLeast(version: string, minimum: string): boolean {
  const a = version.trim().split('.');
  const b = minimum.split('.').map(Number);
  if (a.length === 0 || a.some((p) => !/^\d+$/.test(p))) return false;
  const av = a.map(Number);
  for (let i = 0; i < Math.max(av.length, b.length); i++) {
    const x = av[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}
