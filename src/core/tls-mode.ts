/**
 * How a listener or a client uses TLS, the one vocabulary for every protocol:
 * - `none`: plain TCP, TLS is never offered;
 * - `starttls`: plain at first, switched to TLS by the protocol's command (SMTP STARTTLS,
 *   POP3 STLS, the LDAP StartTLS extended operation);
 * - `implicit`: TLS from the first byte (SMTPS/submissions, POP3S, LDAPS).
 */
export const TLS_MODES = ['none', 'starttls', 'implicit'] as const;
export type TlsMode = (typeof TLS_MODES)[number];

/**
 * Whether a TLS listener asks for a client certificate (mutual TLS, KOM-LE-A_2074):
 * - `off`: never asked;
 * - `request`: asked; a client without one, or with one the CAs did not issue, is served as
 *   without (Postfix's smtpd_tls_ask_ccert) — a verified one ties the login to its account;
 * - `require`: a client without a certificate the CAs issued is refused in the handshake.
 */
export const CLIENT_CERTIFICATE_MODES = ['off', 'request', 'require'] as const;
export type ClientCertificateMode = (typeof CLIENT_CERTIFICATE_MODES)[number];
