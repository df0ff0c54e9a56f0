import { z } from 'zod';
import { duration, host, plaintextPolicy, port } from './fields.js';
import { listener, smtpListener } from './listener.js';
import { CLIENT_CERTIFICATE_MODES } from '../core/tls-mode.js';
import { pop3SessionLimits, smtpSessionLimits } from './limits.js';
import { relaySchema } from './relay.js';
import { throttleSchema } from './throttle.js';
import { kimSchema } from './kim.js';

/**
 * Mutual TLS on a submission or POP3 listener (KOM-LE-A_2074, docs/mail-service.md): `off`,
 * `request` (asked for, not required) or `require` (refused in the handshake without one);
 * trusted are the CAs of `service.clientCertificateCa`.
 */
const clientCertificate = z.enum(CLIENT_CERTIFICATE_MODES).default('off');

/** `service:` — the mail service's listeners (SMTP, POP3, HTTP), login throttling, shutdown and housekeeping. */

export const smtpSchema = z
  .object({
    /** MX: other providers deliver here, STARTTLS, no AUTH. */
    mx: smtpListener(2525).prefault({}),
    /** Submission: implicit TLS (KOM-LE's port 465 role). */
    submission: smtpListener(4465)
      .extend({
        /**
         * A session that does not AUTH is another provider delivering to local accounts (MX
         * rules: any sender, local recipients only, never relayed) — KOM-LE providers relay to
         * each other on 465. False: AUTH is required (530 5.7.0).
         */
        acceptFromProviders: z.boolean().default(true),
        clientCertificate,
      })
      .strict()
      .prefault({}),
    /** Largest message accepted, in bytes (advertised in EHLO SIZE). */
    maxMessageSize: z.number().int().min(1024).default(40 * 1024 * 1024),
    maxRecipients: z.number().int().min(1).default(100),
    ...smtpSessionLimits,
  })
  .strict();

export const pop3Schema = z
  .object({
    starttls: listener(1110).extend({ clientCertificate }).strict().prefault({}),
    implicit: listener(1995).extend({ clientCertificate }).strict().prefault({}),
    ...pop3SessionLimits,
    /** Whether USER/PASS and AUTH PLAIN are offered before STLS on the starttls listener off loopback. */
    allowPlaintextAuth: plaintextPolicy,
  })
  .strict();

export const consoleSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** A session unused this long is ended. */
    sessionIdleMs: duration.min(60_000).default(30 * 60_000),
    /** A session ends this long after sign-in, used or not. */
    sessionMaxMs: duration.min(60_000).default(8 * 3_600_000),
    /** Sessions kept at once; signing in beyond it ends the one unused longest. */
    maxSessions: z.number().int().min(1).max(10_000).default(50),
    /** A failed sign-in is answered after this delay (more once the client's failures are throttled). */
    loginFailureDelayMs: duration.max(60_000).default(1000),
    /** Failed sign-ins per client address: after `freeFailures`, each further one doubles the wait (429). */
    loginThrottle: throttleSchema({ freeFailures: 5, baseDelayMs: 2000 }).prefault({}),
    /** How often the overview's counters are sampled (GET /api/stats), and how many samples are kept. */
    sampleMs: duration.min(1000).default(10_000),
    historySamples: z.number().int().min(2).max(10_000).default(360),
  })
  .strict();

export const httpSchema = z
  .object({
    enabled: z.boolean().default(true),
    host: host.default('127.0.0.1'),
    port: port.default(8080),
    /**
     * Bearer token for the admin API under /api/. Unset: a random one is generated into
     * dataDir/admin-token (0600) at first start. Use `${env:NAME}` to keep it out of the file.
     */
    adminToken: z.string().min(16).optional(),
    /** The admin console at /console/ (docs/console.md): sign-in with the admin token, then a session cookie. */
    console: consoleSchema.prefault({}),
  })
  .strict();

export const serviceSchema = z
  .object({
    /** The name this service gives itself in greetings and Received headers. */
    hostname: z.string().min(1).default('localhost'),
    smtp: smtpSchema.prefault({}),
    pop3: pop3Schema.prefault({}),
    http: httpSchema.prefault({}),
    /** Failed logins per client address across connections (SMTP AUTH, POP3 and LDAP alike). */
    loginThrottle: throttleSchema({ freeFailures: 5, baseDelayMs: 2000 })
      .extend({
        /** Password checks running at once, in all (beyond the password threads they wait there). */
        maxChecks: z.number().int().min(1).default(8),
        /** Logins waiting for one of those; more are answered "try again later" at once. */
        maxWaitingChecks: z.number().int().min(0).default(200),
        /** Checks from one client address at once: parallel guesses go no faster than sequential ones. */
        maxChecksPerAddress: z.number().int().min(1).default(1),
        /** Logins from one address waiting for its check; more are answered "try again later" at once. */
        maxWaitingPerAddress: z.number().int().min(0).default(4),
      })
      .strict()
      .prefault({}),
    /**
     * Successful SMTP AUTH and POP3 logins remembered for a while (as Dovecot's auth_cache), so
     * a client logging in again with the same password skips scrypt. Kept as a keyed hash, never
     * the password; failures are never cached. ttlMs 0 turns it off (docs/mail-service.md).
     */
    loginCache: z
      .object({
        ttlMs: duration.default(300_000),
        maxEntries: z.number().int().min(0).default(10_000),
      })
      .strict()
      .prefault({}),
    /**
     * Threads that compute password hashes (scrypt), apart from libuv's pool that the store's
     * disk syncs need. Default: half the CPUs, at least one.
     */
    passwordThreads: z.number().int().min(1).max(64).optional(),
    /** Shutdown waits this long for open transactions before closing connections. */
    shutdownGraceMs: duration.default(10_000),
    /** Housekeeping: blobs and temp files a crash left unreferenced are removed after this age. */
    blobGcGraceMs: duration.default(3_600_000),
    blobGcIntervalMs: z.number().int().min(1000).default(6 * 3_600_000),
    relay: relaySchema.prefault({}),
    /**
     * CA certificates (PEM files, relative to dataDir) whose client certificates the listeners
     * with `clientCertificate` take. Empty: the CA createCert issues from
     * (kim.accountManager.clientCertificates.caCert).
     */
    clientCertificateCa: z.array(z.string().min(1)).default([]),
    /** The KIM Fachdienst's HTTP interfaces (AccountLimit, ServiceInformation) and the retention job (docs/kim-provider-apis.md). */
    kim: kimSchema.prefault({}),
    /** The message trace (docs/trace.md): what became of each message, for /api/trace and `postamt message trace`. */
    trace: z
      .object({
        enabled: z.boolean().default(true),
        /** Traces of messages received longer ago are removed by the housekeeping (blobGcIntervalMs). */
        retentionDays: z.number().int().min(1).max(3650).default(30),
        /** This node's name in the rows it writes; default the machine's host name. */
        node: z.string().min(1).max(200).optional(),
        /** How long a recorded event may wait in memory before it is written (many messages' rows in one statement). */
        flushMs: z.number().int().min(1).max(60_000).default(200),
        /** Events waiting at most; beyond, new ones are dropped and logged (the database cannot keep up). */
        maxPending: z.number().int().min(100).max(10_000_000).default(100_000),
      })
      .strict()
      .prefault({}),
  })
  .strict();
