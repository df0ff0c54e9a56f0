import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

/**
 * The KIM account a verified TLS client certificate names: its first rfc822Name, lower-cased
 * (createCert's C.CM.TLS-CS carries the account there, crypto/pki/client-module-cert.ts).
 * Undefined when the socket has no verified client certificate or it names no address: a
 * login is then not tied to a certificate.
 */
export function clientCertificateAccount(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  const peer = socket.getPeerCertificate();
  if (!peer?.raw) return undefined;
  let san: string | undefined;
  try {
    san = new X509Certificate(peer.raw).subjectAltName;
  } catch {
    return undefined;
  }
  // Node writes `email:a@b, DNS:x`; a quoted value (with a comma) is never an address here.
  const m = san ? /(?:^|,\s*)email:([^,\s"]+)/.exec(san) : null;
  return m ? m[1]!.toLowerCase() : undefined;
}
