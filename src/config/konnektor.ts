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
    /** `software`: keys from files (test and demo). A SOAP client for a real Konnektor is planned. */
    type: z.enum(['software']).default('software'),
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
  .strict();
