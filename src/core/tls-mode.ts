/**
 * How a listener or a client uses TLS, the one vocabulary for every protocol:
 * - `none`: plain TCP, TLS is never offered;
 * - `starttls`: plain at first, switched to TLS by the protocol's command (SMTP STARTTLS,
 *   POP3 STLS, the LDAP StartTLS extended operation);
 * - `implicit`: TLS from the first byte (SMTPS/submissions, POP3S, LDAPS).
 */
export const TLS_MODES = ['none', 'starttls', 'implicit'] as const;
export type TlsMode = (typeof TLS_MODES)[number];
