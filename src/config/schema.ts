import { z } from 'zod';
import { blobsSchema, databaseSchema } from './store.js';
import { serviceSchema, smtpSchema, pop3Schema, httpSchema } from './service.js';
import { relaySchema } from './relay.js';
import { directorySchema } from './directory.js';
import { konnektorSchema } from './konnektor.js';
import { konnektorSimSchema } from './konnektor-sim.js';
import { clientModuleSchema } from './client-module.js';
import { integrationSchema } from './integration.js';
import { mailinSchema } from './mailin.js';
import { tlsSchema } from './tls.js';
import { praxisSchema } from './praxis.js';

/**
 * The whole of postamt.yaml, composed from one file per area. Every limit has a safe default,
 * so an empty file is a valid configuration for a loopback test service. Keys are camelCase;
 * unknown keys are errors (a typo must not silently fall back to a default).
 */
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
    database: databaseSchema.prefault({}),
    blobs: blobsSchema.prefault({}),
    tls: tlsSchema.prefault({}),
    service: serviceSchema.prefault({}),
    directory: directorySchema.prefault({}),
    konnektor: konnektorSchema.prefault({}),
    /** The Konnektor simulator (`postamt konnektor-sim`; tests and demos of the SOAP Konnektor). */
    konnektorSim: konnektorSimSchema.prefault({}),
    clientModule: clientModuleSchema.prefault({}),
    integration: integrationSchema.prefault({}),
    mailin: mailinSchema.prefault({}),
    /** The reference primary system's back end (docs/praxis.md). */
    praxis: praxisSchema.prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    // A message the listener accepts must fit in a database blob, with its trace headers.
    const need = c.service.smtp.maxMessageSize + 64 * 1024;
    if (c.blobs.backend === 'database' && c.blobs.maxSizeBytes < need) {
      ctx.addIssue({ code: 'custom', path: ['blobs', 'maxSizeBytes'], message: `must be at least service.smtp.maxMessageSize + 65536 (${need}) with blobs.backend: database` });
    }
  });

export type Config = z.infer<typeof configSchema>;
export type SmtpConfig = z.infer<typeof smtpSchema>;
export type Pop3Config = z.infer<typeof pop3Schema>;
export type HttpConfig = z.infer<typeof httpSchema>;
export type DirectoryConfig = z.infer<typeof directorySchema>;
export type KonnektorConfig = z.infer<typeof konnektorSchema>;
export type KonnektorSimConfig = z.infer<typeof konnektorSimSchema>;
export type ClientModuleConfig = z.infer<typeof clientModuleSchema>;
export type MailinConfig = z.infer<typeof mailinSchema>;
export type RelayConfig = z.infer<typeof relaySchema>;
export type TlsConfig = z.infer<typeof tlsSchema>;
