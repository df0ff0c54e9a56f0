import { z } from 'zod';
import { duration, perAddressLimits, plaintextPolicy } from './fields.js';
import { tlsListeners } from './listener.js';

/** `directory:` — the VZD over LDAP: listeners, search and connection limits, cache, processes. */
export const directorySchema = z
  .object({
    /** `starttls`: LDAP offering StartTLS (RFC 4511/4513); `implicit`: LDAP over TLS from the first byte (LDAPS). */
    ldap: z
      .object(tlsListeners({ starttls: 1389, implicit: 1636 }))
      .strict()
      .prefault({}),
    /** The VZD naming context; entries are uid=…,<baseDn>. */
    baseDn: z.string().min(1).default('dc=data,dc=vzd'),
    /** Entries per search before sizeLimitExceeded (a client may ask for fewer, never more). */
    sizeLimit: z.number().int().min(1).default(100),
    /** Longest a search may run before timeLimitExceeded. */
    timeLimitMs: z.number().int().min(100).default(30_000),
    maxConnections: z.number().int().min(1).default(500),
    ...perAddressLimits,
    /** Time for each request, from the end of the previous one; bytes that do not complete a request do not restart it. */
    idleTimeoutMs: duration.default(15 * 60_000),
    /** Time from a request's first byte to its last; a client trickling bytes is disconnected. */
    requestTimeoutMs: duration.default(60_000),
    /** Largest LDAP request PDU accepted; a bigger one closes the connection. */
    maxRequestSize: z.number().int().min(1024).default(256 * 1024),
    /** Deepest nesting of and/or/not in a filter. */
    maxFilterDepth: z.number().int().min(2).default(32),
    /** Whether searches need a bind first (false: anonymous read, as the VZD allows inside the TI). */
    requireBind: z.boolean().default(false),
    /** Whether simple binds are allowed without TLS on non-loopback connections. */
    allowPlaintextBind: plaintextPolicy,
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
    /** Most certificates (userCertificate values) one directory entry holds. */
    maxCertificates: z.number().int().min(1).default(50),
    /** Largest LDIF body the admin API imports. */
    importMaxBytes: z.number().int().min(1024).default(512 * 1024 * 1024),
    /**
     * Processes serving LDAP (the node's process and processes - 1 children, each with its own
     * warm index and cache); connections are spread over them. 1: all in this process.
     */
    processes: z.number().int().min(1).max(64).default(1),
  })
  .strict();
