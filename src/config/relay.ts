import { z } from 'zod';
import { duration, host } from './fields.js';
import { retryFields, workerFields } from './worker.js';
import { isLoopbackHost } from '../core/net.js';
import { TLS_MODES } from '../core/tls-mode.js';

/** How the relay reaches a peer: implicit TLS (KOM-LE: 465), STARTTLS, or none (loopback only). */
const relayTls = z.enum(TLS_MODES);

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
 * `service.relay:` — relaying to other providers (docs/mail-service.md): mail the submission
 * listener accepts for domains that are not local waits in the outbound queue and goes out over
 * SMTP, by static route or MX lookup, with TLS verified against `ca`; retried on the schedule
 * until `retry.maxAgeMs`, then returned to the sender as a DSN.
 */
export const relaySchema = z
  .object({
    /** Whether submission accepts recipients in other domains (false: 554 5.7.1, as the MX listener always answers). */
    enabled: z.boolean().default(true),
    /** The worker sending the queue; `concurrency` is SMTP transactions (one message to one domain each) at once. */
    worker: z
      .object({
        ...workerFields({ concurrency: 16, pollIntervalMs: 5000 }),
        /** How long a node holds rows it sends; past that (a crashed node) any node takes them over. */
        leaseMs: z.number().int().min(1000).default(45 * 60_000),
      })
      .strict()
      .prefault({}),
    retry: z
      .object({
        ...retryFields([60_000, 300_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000]),
        /** Mail not delivered this long after it was accepted is given up and returned (DSN). 0: at the first temporary failure. */
        maxAgeMs: duration.default(5 * 86_400_000),
        /** A "delayed" DSN once mail waited this long (0: none). */
        delayWarnMs: duration.default(0),
      })
      .strict()
      .prefault({}),
    /** Recipients in other domains one message may have (more get 452 4.5.3). */
    maxRecipients: z.number().int().min(1).max(1000).default(100),
    /** Longest wait for connecting, the TLS handshake and each reply. */
    timeoutMs: z.number().int().min(100).default(60_000),
    /** Longest wait for the reply after the data (RFC 5321 4.5.3.2.6: 10 min). */
    dataTimeoutMs: z.number().int().min(100).default(10 * 60_000),
    /** How long a session to a peer stays open for the next transaction to it (0: a new session each time). */
    sessionIdleMs: duration.max(300_000).default(2_000),
    /** Messages larger than this are streamed from the blob store to the peer, not read whole (only their head is held, for Return-Path and a bounce's header). */
    streamAboveBytes: z.number().int().min(64 * 1024).default(1024 * 1024),
    /** Transactions one session to a peer carries before it is closed. */
    sessionMaxTransactions: z.number().int().min(1).max(10_000).default(100),
    /** Port and TLS for hosts found by MX lookup (KOM-LE: 465, implicit TLS). */
    mxPort: z.number().int().min(1).max(65535).default(465),
    mxTls: relayTls.exclude(['none']).default('implicit'),
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
    if (r.worker.leaseMs < 2 * (r.dataTimeoutMs + 10 * r.timeoutMs)) ctx.addIssue({ code: 'custom', path: ['worker', 'leaseMs'], message: 'must be at least 2 × (dataTimeoutMs + 10 × timeoutMs)' });
  });
