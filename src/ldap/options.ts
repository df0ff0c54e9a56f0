import { configSchema, type DirectoryConfig } from '../config/index.js';
import type { ConnectionHandOver, Logger, LoginThrottle, Metrics, ServerPem, TlsMode } from '../core/index.js';
import type { LdapBackend } from './backend.js';

/** The limits and policies of config.directory that govern a connection. */
export type LdapLimits = Pick<
  DirectoryConfig,
  | 'sizeLimit'
  | 'timeLimitMs'
  | 'maxConnections'
  | 'maxConnectionsPerAddress'
  | 'connectionLimitExceptions'
  | 'idleTimeoutMs'
  | 'requestTimeoutMs'
  | 'maxRequestSize'
  | 'maxFilterDepth'
  | 'requireBind'
  | 'allowPlaintextBind'
  | 'bindFailureDelayMs'
  | 'maxOperationsPerConnection'
  | 'maxPagedSearches'
>;

export interface LdapServerOptions {
  backend: LdapBackend;
  /** `starttls`: cleartext, offering StartTLS; `implicit`: TLS from the first byte (LDAPS); `none`: no TLS. */
  tlsMode: TlsMode;
  /** PEM certificate chain and key; required unless `none`. */
  tls?: ServerPem;
  host?: string;
  port?: number;
  limits?: Partial<LdapLimits>;
  logger?: Logger;
  metrics?: Metrics;
  /** A label for logs and metrics; defaults to `ldaps` for implicit TLS, else `ldap`. */
  name?: string;
  /** Shared failed-login accounting per client address (SMTP, POP3 and LDAP). */
  throttle?: LoginThrottle;
  /** vendorVersion in the root DSE. */
  vendorVersion?: string;
  /**
   * Several processes serve this listener (directory.processes): `active()` counts this
   * listener's open connections in all of them (maxConnections is for the whole), and `handOff`
   * may pass a freshly accepted connection, not yet read from, to another process (true when
   * it did; that process then calls LdapServer.adopt).
   */
  handOver?: ConnectionHandOver;
}

/** The schema is the one source of the defaults, so the server and the config never disagree. */
export function resolveLimits(given: Partial<LdapLimits> = {}): LdapLimits {
  const d = configSchema.parse({}).directory;
  return {
    sizeLimit: given.sizeLimit ?? d.sizeLimit,
    timeLimitMs: given.timeLimitMs ?? d.timeLimitMs,
    maxConnections: given.maxConnections ?? d.maxConnections,
    maxConnectionsPerAddress: given.maxConnectionsPerAddress ?? d.maxConnectionsPerAddress,
    connectionLimitExceptions: given.connectionLimitExceptions ?? d.connectionLimitExceptions,
    idleTimeoutMs: given.idleTimeoutMs ?? d.idleTimeoutMs,
    requestTimeoutMs: given.requestTimeoutMs ?? d.requestTimeoutMs,
    maxRequestSize: given.maxRequestSize ?? d.maxRequestSize,
    maxFilterDepth: given.maxFilterDepth ?? d.maxFilterDepth,
    requireBind: given.requireBind ?? d.requireBind,
    allowPlaintextBind: given.allowPlaintextBind ?? d.allowPlaintextBind,
    bindFailureDelayMs: given.bindFailureDelayMs ?? d.bindFailureDelayMs,
    maxOperationsPerConnection: given.maxOperationsPerConnection ?? d.maxOperationsPerConnection,
    maxPagedSearches: given.maxPagedSearches ?? d.maxPagedSearches,
  };
}
