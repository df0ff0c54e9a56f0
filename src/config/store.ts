import { z } from 'zod';

/** `database:` and `blobs:` — where messages and metadata are stored. */

export const databaseSchema = z
  .object({
    /** `sqlite:<path>` (relative to dataDir unless absolute) or `postgres://…`. */
    url: z
      .string()
      .regex(/^(sqlite:|postgres(ql)?:\/\/)/, 'must start with sqlite: or postgres://')
      .default('sqlite:postamt.db'),
    poolSize: z.number().int().min(1).max(100).default(10),
    /**
     * The key secrets stored in the database are sealed with (store/secret-box.ts), at least 32
     * characters; unset: generated into dataDir/secret-key at first start. Nodes sharing one
     * PostgreSQL need the same key. Better given as env POSTAMT_SECRET_KEY than in the file.
     */
    secretKey: z.string().min(32, 'must have at least 32 characters (e.g. `openssl rand -base64 32`)').optional(),
  })
  .strict();

export const blobsSchema = z
  .object({
    /** `files` under dataDir/blobs, or `database` (for several nodes sharing PostgreSQL). */
    backend: z.enum(['files', 'database']).default('files'),
    path: z.string().optional(),
    /** Threads that write small blobs whole (files backend); 0: every step through libuv's thread pool. */
    ioThreads: z.number().int().min(0).max(16).default(2),
    /**
     * Largest blob the database backend stores; a larger message fails its DATA. At least
     * 64 MiB by default so any SMTP `maxMessageSize` default fits with its trace headers.
     */
    maxSizeBytes: z.number().int().min(1024).default(256 * 1024 * 1024),
    /**
     * Database backend: blobs up to this size are one row, written and read whole; larger ones
     * are rows of this size each, written as they arrive and streamed back one at a time, so a
     * node holds about one chunk per message in flight, whatever the message's size.
     */
    chunkBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .max(16 * 1024 * 1024)
      .default(1024 * 1024),
    /**
     * Blobs up to this size (files backend) are read with direct system calls on the event loop
     * (page-cached mail in microseconds) instead of three thread-pool round trips; 0: always the pool.
     */
    syncReadMaxBytes: z.number().int().min(0).max(16 * 1024 * 1024).default(64 * 1024),
  })
  .strict();
