import { configSchema, type Pop3Config } from '../config/index.js';
import type { ClientCertificateMode, Logger, LoginThrottle, Metrics, ServerPem, TlsMode } from '../core/index.js';
import type { Pop3Backend } from './backend.js';

/** The per-connection limits, exactly the fields of config.service.pop3 that govern a session. */
export type Pop3Limits = Pick<
  Pop3Config,
  'maxLineLength' | 'maxConnections' | 'maxConnectionsPerAddress' | 'connectionLimitExceptions' | 'idleTimeoutMs' | 'authFailureDelayMs' | 'maxAuthFailures' | 'maxCommands' | 'allowPlaintextAuth' | 'streamAboveBytes'
>;

export interface Pop3ServerOptions {
  backend: Pop3Backend;
  /** The name in the greeting and the sign-off. */
  hostname: string;
  /** `starttls`: cleartext, offering STLS; `implicit`: TLS from the first byte (POP3S); `none`: no TLS. */
  tlsMode: TlsMode;
  /** PEM certificate chain and key; required unless `none`. */
  tls?: ServerPem;
  /** CA certificates (PEM): when given, TLS clients are asked for a certificate they issued. */
  clientCa?: string[];
  /** With clientCa: `require` (default) refuses a client without one in the handshake, `request` serves it too; a verified one must name the login's account. */
  clientCertificate?: Exclude<ClientCertificateMode, 'off'>;
  /** Listen address; defaults to 127.0.0.1 and an ephemeral port (0). */
  host?: string;
  port?: number;
  /** Anything not given takes the config schema's default. */
  limits?: Partial<Pop3Limits>;
  /** Consecutive unknown/invalid/out-of-state commands before the connection is closed. */
  maxBadCommands?: number;
  logger?: Logger;
  metrics?: Metrics;
  /** A label for logs and metrics, e.g. `pop3s`; defaults to the TLS mode. */
  name?: string;
  /** Shared failed-login accounting per client address (also used by SMTP). */
  throttle?: LoginThrottle;
}

export const DEFAULT_MAX_BAD_COMMANDS = 10;

/** The schema is the one source of the defaults, so the server and the config never disagree. */
export function resolveLimits(given: Partial<Pop3Limits> = {}): Pop3Limits {
  const d = configSchema.parse({}).service.pop3;
  const pick = <K extends keyof Pop3Limits>(k: K): Pop3Limits[K] => given[k] ?? d[k];
  return {
    maxLineLength: pick('maxLineLength'),
    maxConnections: pick('maxConnections'),
    maxConnectionsPerAddress: pick('maxConnectionsPerAddress'),
    connectionLimitExceptions: pick('connectionLimitExceptions'),
    idleTimeoutMs: pick('idleTimeoutMs'),
    authFailureDelayMs: pick('authFailureDelayMs'),
    maxAuthFailures: pick('maxAuthFailures'),
    maxCommands: pick('maxCommands'),
    allowPlaintextAuth: pick('allowPlaintextAuth'),
    streamAboveBytes: pick('streamAboveBytes'),
  };
}
