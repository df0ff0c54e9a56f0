import { z } from 'zod';

/** `konnektor:` — the Konnektor the client module signs, encrypts and decrypts with, and its practices' cards. */

const keySourceSchema = z.union([
  /** A PKCS#12 file (key, certificate, chain) and its password (use `${env:NAME}`). */
  z.object({ p12: z.string().min(1), password: z.string() }).strict(),
  /** A PEM certificate and a PEM private key (PKCS#8 or PKCS#1, optionally encrypted with `password`). */
  z.object({ cert: z.string().min(1), key: z.string().min(1), password: z.string().optional() }).strict(),
]);

/** A card (SMC-B or HBA) of the software Konnektor, as files; paths relative to dataDir. */
export const cardFilesSchema = z
  .object({
    /** A practice directory of `postamt pki init` (osig/enc .pem/.key for RSA, osig-ecc/enc-ecc for ECC; those that exist). */
    dir: z.string().min(1).optional(),
    /** The signature key(s) (SMC-B C.HCI.OSIG: one RSA, one ECC at most); overrides `dir`. */
    signature: z.union([keySourceSchema, z.array(keySourceSchema).min(1).max(2)]).optional(),
    /** The encryption key(s) (C.HCI.ENC), newest first; overrides `dir`. */
    encryption: z.union([keySourceSchema, z.array(keySourceSchema).min(1)]).optional(),
  })
  .strict()
  .refine((c) => c.dir !== undefined || (c.signature !== undefined && c.encryption !== undefined), {
    message: 'a card needs `dir`, or both `signature` and `encryption`',
  });

/**
 * `soap`: a practice's real gematik Konnektor over its SOAP interfaces (docs/konnektor.md,
 * "Connecting a real Konnektor"). Secrets as `${env:NAME}`; paths relative to dataDir.
 */
const soapFields = {
    /** The service directory, e.g. https://konnektor.praxis.local/connector.sds; its endpoints are used as announced. */
    url: z.url({ protocol: /^https$/, error: 'the connector.sds URL must be https' }),
    tls: z
      .object({
        /** CA certificate file(s) (PEM) the Konnektor's TLS certificate is checked against. */
        ca: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
        /** SHA-256 fingerprint(s) of the Konnektor's TLS certificate (hex, colons optional): pinned instead of a CA. */
        pinSha256: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
        /** The client certificate exported from the Konnektor's admin UI (PKCS#12). */
        clientP12: z.string().min(1).optional(),
        password: z.string().optional(),
      })
      .strict()
      .default({}),
    /** HTTP Basic credentials, when the Konnektor's client system is set up for them. */
    basicAuth: z.object({ user: z.string().min(1), password: z.string() }).strict().optional(),
    /** Per call (connect to last byte). */
    timeoutMs: z.number().int().min(100).default(30_000),
    /** SignDocument and VerifyPin, which may wait for a PIN typed at the card terminal; default timeoutMs. */
    signTimeoutMs: z.number().int().min(100).optional(),
    /** A larger answer is refused (`unavailable`); the default fits a KIM message of the largest size. */
    maxResponseBytes: z.number().int().min(1024).default(64 * 1024 * 1024),
    /** How long GetCards' card handles are reused per context. */
    cardCacheMs: z.number().int().min(0).default(60_000),
};

type SoapChecked = { tls: { ca?: unknown; pinSha256?: unknown; clientP12?: string; password?: string } };
const tlsChecks = <T extends z.ZodType<SoapChecked>>(schema: T) =>
  schema
    .refine((s) => !(s.tls.ca && s.tls.pinSha256), { message: 'tls: give `ca` or `pinSha256`, not both' })
    .refine((s) => s.tls.clientP12 === undefined || s.tls.password !== undefined, { message: 'tls.clientP12 needs tls.password' });

/** One Konnektor for some Mandanten: a practice's own box when one client module serves several practices. */
const perMandantSchema = tlsChecks(z.object({ ...soapFields, mandanten: z.array(z.string().min(1)).min(1) }).strict());

const soapSchema = tlsChecks(
  z
    .object({
      ...soapFields,
      /**
       * Other Konnektors, each for the Mandanten it lists (a call context names its Mandant);
       * every other Mandant is served by the Konnektor above.
       */
      perMandant: z
        .array(perMandantSchema)
        .default([])
        .refine((list) => new Set(list.flatMap((k) => k.mandanten)).size === list.flatMap((k) => k.mandanten).length, { message: 'a Mandant may be listed for one Konnektor only' }),
    })
    .strict(),
);
/** One practice (Mandant) and who may use its cards (the Konnektor's info model); also the Konnektor simulator's. */
export const mandantSchema = z
  .object({
    id: z.string().min(1),
    clientSystems: z.array(z.string().min(1)).min(1),
    /** WorkplaceIds; `*` allows every workplace. */
    workplaces: z.array(z.string().min(1)).min(1),
    smcb: cardFilesSchema.optional(),
    /** Doctors' HBAs by UserId. */
    hba: z.record(z.string().min(1), cardFilesSchema).default({}),
  })
  .strict();

export const mandantenSchema = z
  .array(mandantSchema)
  .default([])
  .refine((ms) => new Set(ms.map((m) => m.id)).size === ms.length, { message: 'Mandant ids must be unique' });

export const konnektorSchema = z
  .object({
    /** `software`: keys from files (test and demo). `soap`: a real Konnektor (the `soap` section). */
    type: z.enum(['software', 'soap']).default('software'),
    /** `soap` only: where and how to reach the Konnektor. */
    soap: soapSchema.optional(),
    /**
     * `software` only: the service versions it reports, as a real Konnektor's connector.sds lists
     * them. ECC certificates are used only when SignatureService >= 7.4.1 and EncryptionService
     * >= 6.1.1 (A_17464, A_17472); lower versions make it an RSA-only Konnektor.
     */
    serviceVersions: z
      .object({
        signatureService: z.string().regex(/^\d+(\.\d+)*$/, 'a dotted version such as 7.5.5'),
        encryptionService: z.string().regex(/^\d+(\.\d+)*$/, 'a dotted version such as 6.1.1'),
      })
      .strict()
      .default({ signatureService: '7.5.5', encryptionService: '6.1.1' }),
    /** CA certificates (PEM/DER files, relative to dataDir) VerifyDocument trusts. */
    trustAnchors: z.array(z.string().min(1)).default([]),
    /**
     * `software` only: worker threads for SignDocument and EncryptDocument, so the RSA and AES
     * work of sending leaves the client module's event loop (a real Konnektor is another box).
     * 0: in the event loop.
     */
    workers: z.number().int().min(0).max(64).default(1),
    /** The practices (Mandanten) and who may use their cards (the Konnektor's info model). */
    mandanten: mandantenSchema,
  })
  .strict()
  .refine((k) => k.type !== 'soap' || k.soap !== undefined, { message: 'type soap needs the `soap` section (url, tls)', path: ['soap'] });
