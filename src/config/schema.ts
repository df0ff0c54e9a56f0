import { z } from 'zod';

/**
 * The whole of postamt.yaml. Every limit has a safe default, so an empty file is a valid
 * configuration for a loopback test service. Keys are camelCase; unknown keys are errors
 * (a typo must not silently fall back to a default).
 */

const port = z.number().int().min(0).max(65535);
const host = z.string().min(1);
const duration = z.number().int().min(0);

const listener = (defPort: number) =>
  z
    .object({
      enabled: z.boolean().default(true),
      host: host.default('127.0.0.1'),
      port: port.default(defPort),
    })
    .strict();

export const smtpSchema = z
  .object({
    mx: listener(2525).prefault({}),
    submission: listener(4465).prefault({}),
    /** Largest message accepted, in bytes (advertised in EHLO SIZE). */
    maxMessageSize: z.number().int().min(1024).default(40 * 1024 * 1024),
    maxRecipients: z.number().int().min(1).default(100),
    maxConnections: z.number().int().min(1).default(500),
    /** Longest line in DATA, in octets without CRLF (RFC 5322 2.1.1 allows 998). */
    maxLineLength: z.number().int().min(78).default(998),
    /** What to do with a bare LF or CR in DATA: refuse (smuggling defence) or turn into CRLF. */
    bareLineFeed: z.enum(['reject', 'normalize']).default('reject'),
    socketTimeoutMs: duration.default(5 * 60_000),
    /** Look up the client's host name by reverse DNS for the Received header (slow on closed networks). */
    reverseLookup: z.boolean().default(false),
    /** Failed AUTH attempts on one connection before it is closed. */
    maxAuthFailures: z.number().int().min(1).default(3),
    /** Delay before answering a failed AUTH, to slow down guessing. */
    authFailureDelayMs: duration.default(1000),
  })
  .strict();

export const pop3Schema = z
  .object({
    plain: listener(1110).prefault({}),
    tls: listener(1995).prefault({}),
    /** Longest command line in octets, CRLF included (RFC 2449 allows 255). */
    maxLineLength: z.number().int().min(64).default(512),
    maxConnections: z.number().int().min(1).default(500),
    idleTimeoutMs: duration.default(10 * 60_000),
    authFailureDelayMs: duration.default(1000),
    maxAuthFailures: z.number().int().min(1).default(3),
    /** Commands accepted per session (a runaway client is cut off). */
    maxCommands: z.number().int().min(100).default(100_000),
    /** Whether USER/PASS and AUTH PLAIN are offered before STLS on the plain listener off loopback. */
    allowPlaintextAuth: z.enum(['loopback', 'always', 'never']).default('loopback'),
  })
  .strict();

export const httpSchema = z
  .object({
    enabled: z.boolean().default(true),
    host: host.default('127.0.0.1'),
    port: port.default(8080),
  })
  .strict();

export const configSchema = z
  .object({
    /** Where the SQLite file, blobs, TLS material and endpoints.json live. */
    dataDir: z.string().default('./data'),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .prefault({}),
    database: z
      .object({
        /** `sqlite:<path>` (relative to dataDir unless absolute) or `postgres://…`. */
        url: z
          .string()
          .regex(/^(sqlite:|postgres(ql)?:\/\/)/, 'must start with sqlite: or postgres://')
          .default('sqlite:postamt.db'),
        poolSize: z.number().int().min(1).max(100).default(10),
      })
      .strict()
      .prefault({}),
    blobs: z
      .object({
        /** `files` under dataDir/blobs, or `database` (for several nodes sharing PostgreSQL). */
        backend: z.enum(['files', 'database']).default('files'),
        path: z.string().optional(),
      })
      .strict()
      .prefault({}),
    tls: z
      .object({
        /** PEM files. With none configured a self-signed pair is generated into dataDir/tls. */
        cert: z.string().optional(),
        key: z.string().optional(),
      })
      .strict()
      .prefault({}),
    service: z
      .object({
        /** The name this service gives itself in greetings and Received headers. */
        hostname: z.string().min(1).default('localhost'),
        smtp: smtpSchema.prefault({}),
        pop3: pop3Schema.prefault({}),
        http: httpSchema.prefault({}),
        /** Failed logins per client address across connections (SMTP AUTH and POP3 alike). */
        loginThrottle: z
          .object({
            windowMs: duration.default(15 * 60_000),
            /** Failures in the window before the penalty starts. */
            freeFailures: z.number().int().min(0).default(5),
            /** The first penalty; it doubles with every further failure. */
            baseDelayMs: duration.default(2000),
            maxDelayMs: duration.default(30_000),
          })
          .strict()
          .prefault({}),
        /** Shutdown waits this long for open transactions before closing connections. */
        shutdownGraceMs: duration.default(10_000),
        /** Housekeeping: blobs and temp files a crash left unreferenced are removed after this age. */
        blobGcGraceMs: duration.default(3_600_000),
        blobGcIntervalMs: z.number().int().min(1000).default(6 * 3_600_000),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type SmtpConfig = z.infer<typeof smtpSchema>;
export type Pop3Config = z.infer<typeof pop3Schema>;
export type HttpConfig = z.infer<typeof httpSchema>;
