import { z } from 'zod';
import { duration } from './fields.js';

/**
 * `service.kim:` — what the service answers as a KIM Fachdienst on its HTTP listener
 * (docs/kim-provider-apis.md): the account limits' defaults (I_AccountLimit_Service), the
 * service information (I_ServiceInformation) and the retention job that deletes messages past
 * their account's dataTimeToLive.
 */
export const kimSchema = z
  .object({
    /** Serve /AccountLimit/v1.1/limit and /ServiceInformation/v1.0/serviceinfo. */
    enabled: z.boolean().default(true),
    /** For accounts without a value of their own (`postamt account limits`, PATCH /api/accounts). */
    defaults: z
      .object({
        /** Days a message is kept (AccountLimit.yaml: 10 to 365, default 90). */
        dataTimeToLiveDays: z.number().int().min(10).max(365).default(90),
        /** Largest client mail in bytes (AccountLimit.yaml: at least 734003200). */
        maxMailSize: z.number().int().min(734_003_200, "at least 734003200 (KIM's minimum)").default(734_003_200),
      })
      .strict()
      .prefault({}),
    /**
     * How long a client module may keep a getLimits answer (Cache-Control max-age, Expires);
     * gemSpec_CM_KOMLE A_22416 lets it keep one at most 24 h. 0: not at all (no-store).
     */
    limitsMaxAgeSeconds: z.number().int().min(0).max(86_400).default(3600),
    serviceInformation: z
      .object({
        /** kimServiceVersion: the KIM version(s) this service implements, several separated by ";". */
        kimServiceVersion: z.string().regex(/^\d+\.\d+(\.\d+)?(;\d+\.\d+(\.\d+)?)*$/, 'versions like 1.5.0, separated by ";"').default('1.5.0'),
        /** jwtExpiration in seconds (300 to 21600). */
        jwtExpiration: z.number().int().min(300).max(21_600).default(300),
        /** registerAccount needs a referenceID. */
        referenceIdRequired: z.boolean().default(false),
        /** registerAccount checks iniPassword against the password the provider gave the account; false: the card alone. */
        initialPasswordRequired: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /** I_AccountManager_Service under /AccountMgmt/v2.4 (docs/kim-provider-apis.md). */
    accountManager: z
      .object({
        enabled: z.boolean().default(true),
        /** CA certificates (PEM files, relative to dataDir) that issue the cards' C.HCI.AUT certificates; none: every JWT is refused. */
        trustAnchors: z.array(z.string().min(1)).default([]),
        /** `aud` values a JWT may name (the Account Manager's URLs); a JWT without aud is taken. */
        audiences: z.array(z.string().min(1)).default([]),
        /** Tolerated difference between the Administrationsmodul's clock and ours. */
        clockSkewSeconds: z.number().int().min(0).max(600).default(60),
        /** KIM versions an account may announce (kimVersion; 1.5+ takes large mail, A_23505). */
        kimVersions: z.array(z.string().min(1).max(4)).min(1).default(['1.5', '1.5+']),
        /** A_19464-03: days between deregisterAccount and the account's deletion. */
        deregistrationDays: z.number().int().min(1).max(365).default(30),
        /** How long getOTP's one-time password is good for setTID (porting to another Telematik-ID). */
        otpLifetimeSeconds: z.number().int().min(60).max(30 * 86_400).default(86_400),
        /**
         * createCert: the CA that issues the client modules' TLS certificates C.CM.TLS-CS (PEM
         * files, relative to dataDir; the demo uses the test PKI's pki/ca.pem and pki/ca.key).
         * Without caCert and caKey createCert answers 500 (not offered).
         */
        clientCertificates: z
          .object({
            caCert: z.string().min(1).optional(),
            caKey: z.string().min(1).optional(),
            /** How long an issued certificate is valid (never beyond the CA's own end). */
            validityDays: z.number().int().min(1).max(3650).default(365),
            /** subject O of the certificates: the provider (gemSpec_PKI Tab_PKI_267). */
            organization: z.string().min(1).max(64).default('Postamt'),
            /** subject C: the provider's country. */
            country: z.string().regex(/^[A-Z]{2}$/, 'two capital letters (ISO 3166)').default('DE'),
          })
          .strict()
          .refine((c) => (c.caCert === undefined) === (c.caKey === undefined), { message: 'set both caCert and caKey, or neither' })
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** The Fachdienst's mail rules on the SMTP listeners (docs/mail-service.md "Mail rules"). */
    mailRules: z
      .object({
        /** RFC 3461 NOTIFY=SUCCESS: a success DSN (faq.adoc's format) for each local delivery that asked for one. */
        successDsn: z.boolean().default(true),
        /** gemSpec_FD_KOMLE A_23422 on an account's submission: From, Sender and Reply-To checked against MAIL FROM. */
        senderChecks: z.boolean().default(true),
        /** Domain endings a Reply-To address may have (the service's own domains always may). */
        replyToDomainSuffixes: z.array(z.string().regex(/^\.?[a-z0-9.-]+$/, 'a domain ending like .kim.telematik')).default(['.kim.telematik', '.kim.telematik-test']),
        outOfOffice: z
          .object({
            /** Answer mail to an account whose out-of-office note (updateOutOfOffice) is active. */
            enabled: z.boolean().default(true),
            /** Days before the same sender is answered again by the same account (RFC 3834 recommends 7). */
            intervalDays: z.number().int().min(1).max(365).default(7),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** The housekeeping job that deletes messages older than their account's dataTimeToLive. */
    retention: z
      .object({
        enabled: z.boolean().default(true),
        /** How often it runs (the first run a few seconds after start). */
        intervalMs: duration.min(1000).default(3_600_000),
        /** Messages deleted per transaction; a run goes on batch after batch until none is left. */
        batchSize: z.number().int().min(1).max(100_000).default(1000),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type KimConfig = z.infer<typeof kimSchema>;
