/** A TLS client certificate and its key (PEM), as node:tls takes them. */
export interface ClientCertificate {
  cert: string;
  key: string;
}

/**
 * Which TLS client certificate C.CM.TLS-CS the client module presents to the mail service for
 * an account (KOM-LE-A_2182-01): the account's own, else the provider's, else none (a service
 * that requires one then refuses the handshake, which the client module reports as unreachable).
 */
export type ClientCertificateFor = (address: string) => ClientCertificate | undefined;

export function clientCertificateFor(perAccount: ReadonlyMap<string, ClientCertificate>, fallback: ClientCertificate | undefined): ClientCertificateFor {
  return (address) => perAccount.get(address.toLowerCase()) ?? fallback;
}
