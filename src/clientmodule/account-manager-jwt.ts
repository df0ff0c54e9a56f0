import { createHash, randomUUID } from 'node:crypto';
import type { Konnektor, KonnektorContext } from '../crypto/index.js';

export interface AccountManagerJwtOptions {
  /** Unix seconds (default: now). */
  readonly now?: number;
  /** exp = nbf + this; at most the service's jwtExpiration (ServiceInformation). Default 300. */
  readonly lifetimeSeconds?: number;
  /** `aud`: the Account Manager's base URL, when the caller wants the token bound to it. */
  readonly audience?: string;
}

const b64url = (v: Uint8Array | string): string => Buffer.from(v).toString('base64url');

/**
 * The Administrationsmodul's JWT for the Account Manager (gemSpec_CM_KOMLE A_19457-02):
 * header alg PS256, typ JWT, x5c with the SMC-B's C.HCI.AUT certificate; claims nbf (the table's
 * one claim) and iat, exp, jti beside it. The "signature" is not made here: the SHA-256 of
 * header.payload goes to the Konnektor's ExternalAuthenticate (RSASSA-PSS with C.HCI.AUT),
 * whose answer is the token's third part, as the requirement says.
 */
export async function accountManagerJwt(konnektor: Konnektor, ctx: KonnektorContext, o: AccountManagerJwtOptions = {}): Promise<string> {
  const cert = await konnektor.readCardCertificate(ctx, 'C.AUT', 'RSA');
  const now = o.now ?? Math.floor(Date.now() / 1000);
  const header = { alg: 'PS256', typ: 'JWT', x5c: [Buffer.from(cert).toString('base64')] };
  const claims = { nbf: now, iat: now, exp: now + (o.lifetimeSeconds ?? 300), jti: randomUUID(), ...(o.audience ? { aud: o.audience } : {}) };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = await konnektor.externalAuthenticate(ctx, { hash: createHash('sha256').update(input).digest(), scheme: 'RSASSA-PSS' });
  return `${input}.${b64url(signature)}`;
}
