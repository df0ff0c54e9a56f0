import { z } from 'zod';
import { duration, host, port } from './fields.js';
import { mandantenSchema } from './konnektor.js';

/**
 * `konnektorSim:` — the Konnektor simulator (`postamt konnektor-sim`, src/konnektor-sim/): gematik's
 * Konnektor SOAP services over HTTPS, backed by the software Konnektor's cards, for testing the
 * SOAP Konnektor client without a real Konnektor. docs/konnektor.md, "The Konnektor simulator".
 */

const version = z.string().regex(/^\d+\.\d+\.\d+$/, 'a version such as 7.5.5');

export const konnektorSimSchema = z
  .object({
    /** Where it listens (HTTPS with the platform's TLS material, `tls:`); port 0 picks a free one. */
    listen: z
      .object({
        host: host.default('127.0.0.1'),
        port: port.default(0),
      })
      .strict()
      .prefault({}),
    /** A fixed delay before every answer, to imitate a real Konnektor's tens of milliseconds. */
    delayMs: duration.max(60_000).default(0),
    /** The practices and their cards, as `konnektor.mandanten` (the simulator's info model). */
    mandanten: mandantenSchema,
    /** CA certificates (PEM/DER files, relative to dataDir) VerifyDocument and VerifyCertificate trust. */
    trustAnchors: z.array(z.string().min(1)).default([]),
    /**
     * What connector.sds announces per service. The simulator serves the vendored WSDL of these
     * versions (SignatureService 7.5.5 and EncryptionService 6.1.1 make it ECC capable, A_17464).
     */
    serviceVersions: z
      .object({
        signatureService: version.default('7.5.5'),
        encryptionService: version.default('6.1.1'),
        eventService: version.default('7.2.0'),
        cardService: version.default('8.1.2'),
        certificateService: version.default('6.0.1'),
      })
      .strict()
      .prefault({}),
    /**
     * The largest request body it reads. A KOM-LE message of 40 MiB arrives base64-encoded inside
     * SOAP (about 54 MiB); larger bodies get HTTP 413 before they are parsed.
     */
    maxRequestBytes: z.number().int().min(1024).default(64 * 1024 * 1024),
    /** A request (headers and body) must arrive within this time, or the connection is closed (slow clients). */
    requestTimeoutMs: duration.min(1000).default(120_000),
    /**
     * How clients authenticate (connector.sds ClientAutMandatory): `none`, HTTP `basic` with one
     * user, or `certificate` (TLS client certificates issued by `ca`, PEM file relative to dataDir).
     */
    clientAuth: z
      .discriminatedUnion('type', [
        z.object({ type: z.literal('none') }).strict(),
        z.object({ type: z.literal('basic'), user: z.string().min(1), password: z.string().min(1) }).strict(),
        z.object({ type: z.literal('certificate'), ca: z.string().min(1) }).strict(),
      ])
      .default({ type: 'none' }),
  })
  .strict();
