import { z } from 'zod';
import { retryFields, workerFields } from './worker.js';

/**
 * `mailin:` — mail-in databases and their agents (docs/mailin.md). Every limit an agent could
 * overrun has a default here; per-agent timeouts are bounded by `maxTimeoutMs`.
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
    /**
     * V8 heap limit of each of those threads: a message that needs more to parse is filed with
     * empty parsed fields. At least 32: a thread with mailparser loaded uses about 11 MB of old
     * generation on Node 20 and 13 on Node 24 (whose V8 counts its new trusted space there too), so
     * 16 left Node 24 threads dying on every message.
     */
    threadHeapMb: z.number().int().min(32).default(1024),
    /** The worker running after-delivery jobs; `concurrency` is jobs (agent runs) at once. */
    worker: z
      .object({
        ...workerFields({ concurrency: 8, pollIntervalMs: 1000 }),
        /** A claimed job is given back to the queue after the agent's time limit plus this (a crashed node). */
        leaseMarginMs: z.number().int().min(10).default(60_000),
      })
      .strict()
      .prefault({}),
    retry: z
      .object({
        ...retryFields([60_000, 300_000, 900_000, 3_600_000, 14_400_000]),
        /** Attempts before a job is given up (state `dead`; `postamt mailin retry` runs it again). */
        maxAttempts: z.number().int().min(1).default(6),
      })
      .strict()
      .prefault({}),
    webhook: z
      .object({
        /** Host names (or IP literals) webhooks and scripts' http calls may reach; empty: any. */
        allowHosts: z.array(z.string().min(1)).default([]),
        /**
         * Private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7…) as targets. Off: a
         * webhook cannot be turned against the internal network. Link-local, metadata, multicast
         * and the platform's own listeners are refused whatever this says.
         */
        allowPrivateTargets: z.boolean().default(false),
        /** Loopback (127/8, ::1) as targets; the platform's own listeners stay refused. */
        allowLoopbackTargets: z.boolean().default(false),
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
        /** V8 heap limits of the child process a script agent runs in. */
        maxOldGenerationSizeMb: z.number().int().min(8).default(64),
        maxYoungGenerationSizeMb: z.number().int().min(1).default(16),
        stackSizeMb: z.number().int().min(1).max(64).default(4),
        /**
         * Memory that process may take beyond what Node has at start, in MB: the heap, Buffers,
         * everything else written. Set as RLIMIT_DATA = this + the runtime's own start size,
         * measured once (about 48 MB on Node 20, 575 MB on Node 24, mostly reserved code range).
         */
        maxMemoryMb: z.number().int().min(64).default(256),
        /** Largest message the process may send the service (a verdict, an api.http request with its body). */
        maxMessageBytes: z.number().int().min(64 * 1024).default(16 * 1024 * 1024),
        /** api.http calls one run may have open at once; more are refused to the script. */
        maxHttpInFlight: z.number().int().min(1).max(64).default(4),
        /**
         * Scripts that may open network connections themselves (absolute file paths, or folders
         * ending in /); every other script has no network but api.http, under the webhooks' rules.
         */
        allowNetwork: z.array(z.string().regex(/^\//, 'must be an absolute path')).default([]),
        /**
         * The account scripts run as when the service runs as root (a name, uid or uid:gid; ""
         * keeps root): the operating system's file and socket permissions then apply as well.
         */
        user: z.string().default('nobody'),
      })
      .strict()
      .prefault({}),
    /** Longest text body kept in the document row (the raw message always has all of it). */
    textMaxBytes: z.number().int().min(0).default(256 * 1024),
  })
  .strict();
