import { z } from 'zod';
import { integrationSchema } from './integration.js';
import { isLoopbackHost } from '../core/net.js';

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
    submission: listener(4465)
      .extend({
        /**
         * A session that does not AUTH is another provider delivering to local accounts (MX
         * rules: any sender, local recipients only, never relayed) — KOM-LE providers relay to
         * each other on 465. False: AUTH is required (530 5.7.0).
         */
        acceptFromProviders: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
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
    /**
     * Bearer token for the admin API under /api/. Unset: a random one is generated into
     * dataDir/admin-token (0600) at first start. Use `${env:NAME}` to keep it out of the file.
     */
    adminToken: z.string().min(16).optional(),
  })
  .strict();

export const directorySchema = z
  .object({
    /** LDAP with StartTLS (RFC 4511/4513). */
    ldap: listener(1389).prefault({}),
    /** LDAP over implicit TLS. */
    ldaps: listener(1636).prefault({}),
    /** The VZD naming context; entries are uid=…,<baseDn>. */
    baseDn: z.string().min(1).default('dc=data,dc=vzd'),
    /** Entries per search before sizeLimitExceeded (a client may ask for fewer, never more). */
    sizeLimit: z.number().int().min(1).default(100),
    /** Longest a search may run before timeLimitExceeded. */
    timeLimitMs: z.number().int().min(100).default(30_000),
    maxConnections: z.number().int().min(1).default(500),
    idleTimeoutMs: duration.default(15 * 60_000),
    /** Largest LDAP request PDU accepted; a bigger one closes the connection. */
    maxRequestSize: z.number().int().min(1024).default(256 * 1024),
    /** Deepest nesting of and/or/not in a filter. */
    maxFilterDepth: z.number().int().min(2).default(32),
    /** Whether searches need a bind first (false: anonymous read, as the VZD allows inside the TI). */
    requireBind: z.boolean().default(false),
    /** Whether simple binds are allowed without TLS on non-loopback connections. */
    allowPlaintextBind: z.enum(['loopback', 'always', 'never']).default('loopback'),
    bindFailureDelayMs: duration.default(1000),
    /** Requests in progress on one connection before the server stops reading from it. */
    maxOperationsPerConnection: z.number().int().min(1).default(64),
    /** Paged searches (RFC 2696) one connection may keep open; the oldest is dropped beyond. */
    maxPagedSearches: z.number().int().min(1).default(8),
    /** Directory entries kept in memory per process (0 = none). */
    cacheEntries: z.number().int().min(0).default(20_000),
    /**
     * How often the store's directory version is read so that changes made by other nodes
     * (or `postamt directory` commands) reach this process's cache: the staleness bound.
     */
    cacheCheckMs: duration.default(1000),
    /** The KIM version the service writes into komLeData (`<version>,<address>`). */
    komLeVersion: z.string().regex(/^\d+\.\d+$/).default('1.5'),
    /** Largest LDIF body the admin API imports. */
    importMaxBytes: z.number().int().min(1024).default(512 * 1024 * 1024),
    /**
     * Processes serving LDAP (the node's process and processes - 1 children, each with its own
     * warm index and cache); connections are spread over them. 1: all in this process.
     */
    processes: z.number().int().min(1).max(64).default(1),
  })
  .strict();

/** How the relay reaches a peer: implicit TLS (KOM-LE: 465), STARTTLS, or none (loopback only). */
const relayTls = z.enum(['implicit', 'starttls', 'none']);

const relayRouteSchema = z
  .object({
    host,
    port: z.number().int().min(1).max(65535),
    tls: relayTls.default('implicit'),
    /** CA files (PEM, relative to dataDir) trusted for this peer, besides `relay.ca`. */
    ca: z.array(z.string().min(1)).default([]),
  })
  .strict();

const ROUTE_DOMAIN = /^(\*|(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*)$/;

/**
 * Relaying to other providers (docs/mail-service.md): mail the submission listener accepts for
 * domains that are not local waits in the outbound queue and goes out over SMTP, by static route
 * or MX lookup, with TLS verified against `ca`; retried on the schedule until `maxAgeMs`, then
 * returned to the sender as a DSN.
 */
export const relaySchema = z
  .object({
    /** Whether submission accepts recipients in other domains (false: 554 5.7.1, as the MX listener always answers). */
    enabled: z.boolean().default(true),
    /** Whether this node sends queued mail (several nodes on one PostgreSQL may all do). */
    worker: z.boolean().default(true),
    /** Recipients in other domains one message may have (more get 452 4.5.3). */
    maxRecipients: z.number().int().min(1).max(1000).default(100),
    /** SMTP transactions (one message to one domain each) this node runs at once (bench:relay: 8 → 16, 217 → 283 msgs/s). */
    concurrency: z.number().int().min(1).max(256).default(16),
    /** How often the queue is looked at when nothing woke the worker (retries coming due, other nodes' mail). */
    pollIntervalMs: z.number().int().min(10).default(5000),
    /** How long a node holds rows it sends; past that (a crashed node) any node takes them over. */
    leaseMs: z.number().int().min(1000).default(45 * 60_000),
    /** Longest wait for connecting, the TLS handshake and each reply. */
    timeoutMs: z.number().int().min(100).default(60_000),
    /** Longest wait for the reply after the data (RFC 5321 4.5.3.2.6: 10 min). */
    dataTimeoutMs: z.number().int().min(100).default(10 * 60_000),
    /** How long a session to a peer stays open for the next transaction to it (0: a new session each time). */
    sessionIdleMs: duration.max(300_000).default(2_000),
    /** Transactions one session to a peer carries before it is closed. */
    sessionMaxTransactions: z.number().int().min(1).max(10_000).default(100),
    /** Waits after the 1st, 2nd, … failed attempt; the last one repeats. */
    retryScheduleMs: z
      .array(duration)
      .min(1)
      .max(100)
      .default([60_000, 300_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000]),
    /** Mail not delivered this long after it was accepted is given up and returned (DSN). 0: at the first temporary failure. */
    maxAgeMs: duration.default(5 * 86_400_000),
    /** A "delayed" DSN once mail waited this long (0: none). */
    delayWarnMs: duration.default(0),
    /** Port and TLS for hosts found by MX lookup (KOM-LE: 465, implicit TLS). */
    mxPort: z.number().int().min(1).max(65535).default(465),
    mxTls: z.enum(['implicit', 'starttls']).default('implicit'),
    /** MX hosts tried per attempt, lowest preference first. */
    maxMxHosts: z.number().int().min(1).max(20).default(5),
    /** CA files (PEM, relative to dataDir) trusted for peers' certificates; empty: the system's roots. */
    ca: z.array(z.string().min(1)).default([]),
    /** The name in EHLO; default `service.hostname`. */
    heloName: z.string().regex(/^[^\s<>]+$/, 'must be a host name without spaces').optional(),
    /** Static routes by recipient domain (lower case), `*` for a smarthost; other domains by MX lookup. */
    routes: z.record(z.string(), relayRouteSchema).default({}),
  })
  .strict()
  .superRefine((r, ctx) => {
    for (const [domain, route] of Object.entries(r.routes)) {
      if (!ROUTE_DOMAIN.test(domain)) ctx.addIssue({ code: 'custom', path: ['routes', domain], message: 'must be a lower-case domain name or *' });
      // TLS everywhere off loopback: a route in clear is only for a peer on this machine.
      if (route.tls === 'none' && !isLoopbackHost(route.host)) ctx.addIssue({ code: 'custom', path: ['routes', domain, 'tls'], message: `none is only allowed for a loopback host, not ${route.host}` });
    }
    // No host is tried after half the lease, and one transaction (connect, TLS, a few replies,
    // the data) must end inside the other half, or two nodes might both send the rows.
    if (r.leaseMs < 2 * (r.dataTimeoutMs + 10 * r.timeoutMs)) ctx.addIssue({ code: 'custom', path: ['leaseMs'], message: 'must be at least 2 × (dataTimeoutMs + 10 × timeoutMs)' });
  });

const keySourceSchema = z.union([
  /** A PKCS#12 file (key, certificate, chain) and its password (use `${env:NAME}`). */
  z.object({ p12: z.string().min(1), password: z.string() }).strict(),
  /** A PEM certificate and a PEM private key (PKCS#8 or PKCS#1, optionally encrypted with `password`). */
  z.object({ cert: z.string().min(1), key: z.string().min(1), password: z.string().optional() }).strict(),
]);

/** A card (SMC-B or HBA) of the software Konnektor, as files; paths relative to dataDir. */
const cardFilesSchema = z
  .object({
    /** A practice directory of `postamt pki init` (osig.pem/.key, enc.pem/.key). */
    dir: z.string().min(1).optional(),
    /** The signature key (SMC-B C.HCI.OSIG); overrides `dir`. */
    signature: keySourceSchema.optional(),
    /** The encryption key(s) (C.HCI.ENC), newest first; overrides `dir`. */
    encryption: z.union([keySourceSchema, z.array(keySourceSchema).min(1)]).optional(),
  })
  .strict()
  .refine((c) => c.dir !== undefined || (c.signature !== undefined && c.encryption !== undefined), {
    message: 'a card needs `dir`, or both `signature` and `encryption`',
  });

/**
 * The client module (at the practice): SMTP and POP3 towards primary systems, upstream
 * sessions to the mail service named in the KIM user name, LDAP lookups in the directory.
 */
export const clientModuleSchema = z
  .object({
    /** SMTP towards the PS: plain with STARTTLS (plain only on loopback unless allowPlaintextAuth). */
    smtp: listener(10025).prefault({}),
    /** SMTP towards the PS over implicit TLS. */
    smtps: listener(10465).prefault({}),
    /** POP3 towards the PS with STLS. */
    pop3: listener(10110).prefault({}),
    /** POP3 towards the PS over implicit TLS. */
    pop3s: listener(10995).prefault({}),
    /** Whether AUTH/USER are offered without TLS: loopback (default), always, never. */
    allowPlaintextAuth: z.enum(['loopback', 'always', 'never']).default('loopback'),
    /**
     * CA files (relative to dataDir): when set, primary systems connecting over TLS must
     * present a client certificate issued by one of them (mutual TLS).
     */
    clientCertificateCa: z.array(z.string().min(1)).default([]),
    upstream: z
      .object({
        /** CA files (relative to dataDir) trusted for the service's TLS certificate; default: the platform's own. */
        ca: z.array(z.string().min(1)).default([]),
        /** Only for tests against a service with an unknown certificate. */
        rejectUnauthorized: z.boolean().default(true),
        timeoutMs: z.number().int().min(100).default(30_000),
        /** How long an idle upstream SMTP session is kept for the next message of the same PS session. */
        idleMs: z.number().int().min(1000).default(60_000),
      })
      .strict()
      .prefault({}),
    directory: z
      .object({
        /** ldap://host:port (with StartTLS off loopback) or ldaps://host:port. */
        url: z.string().regex(/^ldaps?:\/\//, 'must start with ldap:// or ldaps://').default('ldap://127.0.0.1:1389'),
        baseDn: z.string().min(1).default('dc=data,dc=vzd'),
        startTls: z.boolean().default(false),
        ca: z.string().optional(),
        /** gematik allows ENC certificates to be cached for 12 h. */
        cacheTtlMs: duration.default(12 * 3_600_000),
        /** Addresses without a certificate are asked again after this long. */
        negativeCacheTtlMs: duration.default(5 * 60_000),
        /**
         * The longest a KOM-LE version read from the directory (kimData/komLeData) is used: it is
         * cached with the certificates, so an address is looked up again after the shorter of
         * this and cacheTtlMs. gemSpec_CM_KOMLE A_22340 allows at most 24 h.
         */
        versionCacheTtlMs: duration.max(24 * 3_600_000, 'at most 24 h (A_22340)').default(24 * 3_600_000),
        maxCacheEntries: z.number().int().min(10).default(100_000),
        timeoutMs: z.number().int().min(100).default(10_000),
      })
      .strict()
      .prefault({}),
    /**
     * Append the Vermerke "Die Nachricht wurde entschlüsselt." / "Die Signatur wurde erfolgreich
     * geprüft." to the text the PS receives (KOM-LE-A_2179-01, KOM-LE-A_2050-05: required; off
     * only for a PS that adds its own).
     */
    appendNote: z.boolean().default(true),
    /**
     * A_23165, after a failed integrity check: `replace` the body by the fixed text (default),
     * `embed` the decrypted original in a failure message (gematik's FAQ), or hand over the
     * `original` with the result fields.
     */
    integrityFailure: z.enum(['replace', 'embed', 'original']).default('replace'),
    /** Per POP3 session, decrypted messages kept so RETR after LIST does not decrypt twice. */
    sessionCacheBytes: z.number().int().min(0).default(64 * 1024 * 1024),
    /** All POP3 sessions together: the most decrypted messages they keep at once. */
    cacheTotalBytes: z.number().int().min(0).default(256 * 1024 * 1024),
    /** Sizes of decrypted messages kept across sessions (by account and UIDL). */
    sizeCacheEntries: z.number().int().min(0).default(100_000),
    /** The account's dataTimeToLive in days (Expires header). */
    dataTimeToLiveDays: z.number().int().min(1).default(90),
    /** Largest message a PS may send, in bytes; advertised as EHLO SIZE, which Tab_SMTP_Ant_Init wants ≥ 35882577. */
    maxMessageSize: z.number().int().min(35_882_577, 'at least 35882577 (gemSpec_CM_KOMLE Tab_SMTP_Ant_Init: SIZE)').default(40 * 1024 * 1024),
    maxRecipients: z.number().int().min(1).default(100),
  })
  .strict();

export const konnektorSchema = z
  .object({
    /** `software`: keys from files (test and demo). A SOAP client for a real Konnektor is planned. */
    type: z.enum(['software']).default('software'),
    /** CA certificates (PEM/DER files, relative to dataDir) VerifyDocument trusts. */
    trustAnchors: z.array(z.string().min(1)).default([]),
    /**
     * `software` only: worker threads for SignDocument and EncryptDocument, so the RSA and AES
     * work of sending leaves the client module's event loop (a real Konnektor is another box).
     * 0: in the event loop.
     */
    workers: z.number().int().min(0).max(64).default(1),
    /** The practices (Mandanten) and who may use their cards (the Konnektor's info model). */
    mandanten: z
      .array(
        z
          .object({
            id: z.string().min(1),
            clientSystems: z.array(z.string().min(1)).min(1),
            /** WorkplaceIds; `*` allows every workplace. */
            workplaces: z.array(z.string().min(1)).min(1),
            smcb: cardFilesSchema.optional(),
            /** Doctors' HBAs by UserId. */
            hba: z.record(z.string().min(1), cardFilesSchema).default({}),
          })
          .strict(),
      )
      .default([])
      .refine((ms) => new Set(ms.map((m) => m.id)).size === ms.length, { message: 'Mandant ids must be unique' }),
  })
  .strict();

/**
 * Mail-in databases and their agents (docs/mailin.md). Every limit an agent could overrun has
 * a default here; per-agent timeouts are bounded by `maxTimeoutMs`.
 */
export const mailinSchema = z
  .object({
    /** Server-wide switch for before-delivery agents (Domino lets the administrator turn them off); off: mail is filed unseen. */
    beforeDelivery: z.boolean().default(true),
    /** Time limit of an agent run when the agent does not set its own (Domino's default is 30 s). */
    defaultTimeoutMs: z.number().int().min(100).default(30_000),
    maxTimeoutMs: z.number().int().min(100).default(600_000),
    /**
     * Worker threads that parse mail-in messages and make webhook calls beside the event loop;
     * 0: both on the event loop (script agents always get a thread of their own).
     */
    threads: z.number().int().min(0).max(64).default(1),
    /** V8 heap limit of each of those threads: a message that needs more to parse is filed with empty parsed fields. */
    threadHeapMb: z.number().int().min(16).default(1024),
    worker: z
      .object({
        /** Whether this node runs after-delivery jobs (several nodes on one PostgreSQL may all do). */
        enabled: z.boolean().default(true),
        /** Jobs run at once by this node. */
        concurrency: z.number().int().min(1).max(256).default(8),
        /** How often the queue is looked at when nothing woke the worker (other nodes' mail, retries). */
        pollIntervalMs: z.number().int().min(10).default(1000),
        /** A claimed job is given back to the queue after the agent's time limit plus this (a crashed node). */
        leaseMarginMs: z.number().int().min(10).default(60_000),
      })
      .strict()
      .prefault({}),
    retry: z
      .object({
        /** How long a session to a peer stays open for the next transaction to it (0: a new session each time). */
    sessionIdleMs: duration.max(300_000).default(2_000),
    /** Transactions one session to a peer carries before it is closed. */
    sessionMaxTransactions: z.number().int().min(1).max(10_000).default(100),
    /** Waits after the 1st, 2nd, … failed attempt; the last one repeats. */
        scheduleMs: z.array(z.number().int().min(0)).min(1).default([60_000, 300_000, 900_000, 3_600_000, 14_400_000]),
        /** Attempts before a job is given up (state `dead`; `postamt mailin retry` runs it again). */
        maxAttempts: z.number().int().min(1).default(6),
      })
      .strict()
      .prefault({}),
    webhook: z
      .object({
        /** Host names (or IP literals) webhooks and scripts' http calls may reach; empty: any. */
        allowHosts: z.array(z.string().min(1)).default([]),
        /** Attachments up to this size are sent inline (base64); larger ones by name, type, size and hash only. */
        inlineAttachmentMaxBytes: z.number().int().min(0).default(1024 * 1024),
        /** Raw MIME (base64) is sent only for agents with include-raw and messages up to this size. */
        rawMaxBytes: z.number().int().min(0).default(10 * 1024 * 1024),
        /** Largest answer read from a webhook; beyond it the run fails. */
        maxResponseBytes: z.number().int().min(1024).default(64 * 1024),
      })
      .strict()
      .prefault({}),
    script: z
      .object({
        /** V8 heap limits of the worker thread a script agent runs in. */
        maxOldGenerationSizeMb: z.number().int().min(8).default(64),
        maxYoungGenerationSizeMb: z.number().int().min(1).default(16),
        stackSizeMb: z.number().int().min(1).default(4),
      })
      .strict()
      .prefault({}),
    /** Longest text body kept in the document row (the raw message always has all of it). */
    textMaxBytes: z.number().int().min(0).default(256 * 1024),
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
        /** Threads that write small blobs whole (files backend); 0: every step through libuv's thread pool. */
        ioThreads: z.number().int().min(0).max(16).default(2),
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
        relay: relaySchema.prefault({}),
      })
      .strict()
      .prefault({}),
    directory: directorySchema.prefault({}),
    konnektor: konnektorSchema.prefault({}),
    clientModule: clientModuleSchema.prefault({}),
    integration: integrationSchema.prefault({}),
    mailin: mailinSchema.prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type SmtpConfig = z.infer<typeof smtpSchema>;
export type Pop3Config = z.infer<typeof pop3Schema>;
export type HttpConfig = z.infer<typeof httpSchema>;
export type DirectoryConfig = z.infer<typeof directorySchema>;
export type KonnektorConfig = z.infer<typeof konnektorSchema>;
export type ClientModuleConfig = z.infer<typeof clientModuleSchema>;
export type MailinConfig = z.infer<typeof mailinSchema>;
export type RelayConfig = z.infer<typeof relaySchema>;
