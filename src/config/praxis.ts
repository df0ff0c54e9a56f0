import { z } from 'zod';
import { duration, host, port } from './fields.js';
import { throttleSchema } from './throttle.js';

/**
 * `praxis:` — the reference primary system's back end ("Praxis-Postfach", docs/praxis.md): an HTTP
 * listener a browser talks to, which works only through the client module's SMTP and POP3 and the
 * directory's LDAP, as any primary system does. `npm start` fills in the endpoints and practices.
 */

/** One endpoint of the client module (SMTP or POP3) as a primary system configures it. */
const cmEndpoint = (defaultPort: number) =>
  z
    .object({
      host: host.default('127.0.0.1'),
      port: port.default(defaultPort),
      /** implicit: TLS from the first byte; starttls: upgraded before the login; none: loopback tests only. */
      tls: z.enum(['implicit', 'starttls', 'none']).default('implicit'),
    })
    .strict()
    .prefault({});

/** A practice that may sign in, and the parts of its KIM user name (address#mta-host:port#Mandant#ClientSystem#Workplace). */
const practiceSchema = z
  .object({
    address: z.string().min(3).regex(/^[^\s#@]+@[^\s#@]+$/, 'a mail address'),
    /** The mail service's submission endpoint (host:port) named in the SMTP user name. */
    smtpMta: z.string().min(3),
    /** The mail service's POP3S endpoint (host:port) named in the POP3 user name. */
    pop3Mta: z.string().min(3),
    mandant: z.string().min(1),
    clientSystem: z.string().min(1),
    workplace: z.string().min(1),
  })
  .strict();

export const praxisSchema = z
  .object({
    /** Started by `npm start` (the demo) when true; `serve` does not run it. */
    enabled: z.boolean().default(true),
    http: z
      .object({
        /** Loopback by default: the cookie is marked Secure as soon as this is not a loopback address. */
        host: host.default('127.0.0.1'),
        port: port.default(8090),
      })
      .strict()
      .prefault({}),
    clientModule: z
      .object({
        smtp: cmEndpoint(465),
        pop3: cmEndpoint(995),
        /** PEM files (relative to dataDir) trusted for the client module's TLS; empty: the platform's own certificate (one machine, the demo). */
        ca: z.array(z.string().min(1)).default([]),
        timeoutMs: z.number().int().min(100).default(60_000),
      })
      .strict()
      .prefault({}),
    directory: z
      .object({
        url: z.string().regex(/^ldaps?:\/\//, 'must start with ldap:// or ldaps://').default('ldap://127.0.0.1:1389'),
        baseDn: z.string().min(1).default('dc=data,dc=vzd'),
        /** StartTLS on ldap:// (off on loopback by default). */
        startTls: z.boolean().default(false),
        /** The most entries one search returns. */
        maxResults: z.number().int().min(1).max(1000).default(50),
        timeoutMs: z.number().int().min(100).default(10_000),
      })
      .strict()
      .prefault({}),
    /** The practices that may sign in; the demo fills them in. */
    practices: z.array(practiceSchema).default([]),
    session: z
      .object({
        /** A session unused this long ends. */
        idleMs: duration.min(1000).default(30 * 60_000),
        /** A session ends this long after sign-in, used or not. */
        maxMs: duration.min(1000).default(10 * 3_600_000),
        maxSessions: z.number().int().min(1).default(1000),
      })
      .strict()
      .prefault({}),
    login: z
      .object({
        /** Every failed sign-in is answered after this delay. */
        failureDelayMs: duration.max(10_000).default(1000),
        /** Failures per client address: after freeFailures, sign-ins from it are refused (429) for a doubling time. */
        throttle: throttleSchema({ freeFailures: 5, baseDelayMs: 5000 }).prefault({}),
      })
      .strict()
      .prefault({}),
    limits: z
      .object({
        maxAttachmentBytes: z.number().int().min(1).default(10 * 1024 * 1024),
        /** The whole request and the MIME message built from it. */
        maxMessageBytes: z.number().int().min(1024).default(25 * 1024 * 1024),
        maxAttachments: z.number().int().min(0).default(20),
        maxRecipients: z.number().int().min(1).default(50),
        inboxPageSize: z.number().int().min(1).max(1000).default(50),
        /** Message summaries kept per practice (by UIDL). */
        inboxCacheEntries: z.number().int().min(10).default(10_000),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type PraxisConfig = z.infer<typeof praxisSchema>;
export type PraxisPracticeConfig = z.infer<typeof practiceSchema>;
