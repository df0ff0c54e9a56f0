import { z } from 'zod';
import { duration, plaintextPolicy } from './fields.js';
import { smtpListener, tlsListeners } from './listener.js';
import { clientCertificateFile } from './client-module-accounts.js';
import { pop3SessionLimits, smtpSessionLimits } from './limits.js';
import { clientModuleAccounts, clientModuleProviders } from './client-module-accounts.js';

/**
 * `clientModule:` — the client module (at the practice): SMTP and POP3 towards primary systems
 * with their own session limits, upstream sessions to the mail service named in the KIM user
 * name, LDAP lookups in the directory.
 */
export const clientModuleSchema = z
  .object({
    /** SMTP towards the PS: `starttls` (in clear only on loopback unless allowPlaintextAuth), `implicit`; the session limits. */
    smtp: z
      .object({ starttls: smtpListener(10025).prefault({}), implicit: smtpListener(10465).prefault({}), ...smtpSessionLimits })
      .strict()
      .prefault({}),
    /** POP3 towards the PS: `starttls` (STLS), `implicit`; the session limits. */
    pop3: z
      .object({ ...tlsListeners({ starttls: 10110, implicit: 10995 }), ...pop3SessionLimits })
      .strict()
      .prefault({}),
    /** Whether AUTH/USER are offered without TLS: loopback (default), always, never. */
    allowPlaintextAuth: plaintextPolicy,
    /** The KIM accounts primary systems may log in as, each with the call contexts it may use; none: every login is refused. */
    accounts: clientModuleAccounts,
    /** The mail services a user name may point at (host or domain, with ports); none: every login is refused. */
    providers: clientModuleProviders,
    /**
     * CA files (relative to dataDir): when set, primary systems connecting over TLS must
     * present a client certificate issued by one of them (mutual TLS).
     */
    clientCertificateCa: z.array(z.string().min(1)).default([]),
    upstream: z
      .object({
        /** CA files (relative to dataDir) trusted for the service's TLS certificate; default: the platform's own. */
        ca: z.array(z.string().min(1)).default([]),
        /** Only for tests against a service with an unknown certificate. */
        rejectUnauthorized: z.boolean().default(true),
        timeoutMs: z.number().int().min(100).default(30_000),
        /**
         * The TLS client certificate C.CM.TLS-CS presented to the mail service (KOM-LE-A_2182-01):
         * the PKCS#12 file createCert handed out, for every account without one of its own
         * (clientModule.accounts[].clientCertificate).
         */
        clientCertificate: clientCertificateFile.optional(),
      })
      .strict()
      .prefault({}),
    directory: z
      .object({
        /** ldap://host:port (with StartTLS off loopback) or ldaps://host:port. */
        url: z.string().regex(/^ldaps?:\/\//, 'must start with ldap:// or ldaps://').default('ldap://127.0.0.1:1389'),
        baseDn: z.string().min(1).default('dc=data,dc=vzd'),
        startTls: z.boolean().default(false),
        ca: z.string().optional(),
        /** gematik allows ENC certificates to be cached for 12 h. */
        cacheTtlMs: duration.default(12 * 3_600_000),
        /** Addresses without a certificate are asked again after this long. */
        negativeCacheTtlMs: duration.default(5 * 60_000),
        /**
         * The longest a KOM-LE version read from the directory (kimData/komLeData) is used: it is
         * cached with the certificates, so an address is looked up again after the shorter of
         * this and cacheTtlMs. gemSpec_CM_KOMLE A_22340 allows at most 24 h.
         */
        versionCacheTtlMs: duration.max(24 * 3_600_000, 'at most 24 h (A_22340)').default(24 * 3_600_000),
        maxCacheEntries: z.number().int().min(10).default(100_000),
        timeoutMs: z.number().int().min(100).default(10_000),
      })
      .strict()
      .prefault({}),
    /**
     * Append the Vermerke "Die Nachricht wurde entschlüsselt." / "Die Signatur wurde erfolgreich
     * geprüft." to the text the PS receives (KOM-LE-A_2179-01, KOM-LE-A_2050-05: required; off
     * only for a PS that adds its own).
     */
    appendNote: z.boolean().default(true),
    /**
     * A_23165, after a failed integrity check: `replace` the body by the fixed text (default),
     * `embed` the decrypted original in a failure message (gematik's FAQ), or hand over the
     * `original` with the result fields.
     */
    integrityFailure: z.enum(['replace', 'embed', 'original']).default('replace'),
    /** Per POP3 session, decrypted messages kept so RETR after LIST does not decrypt twice. */
    sessionCacheBytes: z.number().int().min(0).default(64 * 1024 * 1024),
    /** All POP3 sessions together: the most decrypted messages they keep at once. */
    cacheTotalBytes: z.number().int().min(0).default(256 * 1024 * 1024),
    /** Sizes of decrypted messages kept across sessions (by account and UIDL). */
    sizeCacheEntries: z.number().int().min(0).default(100_000),
    /** Recent send/receive outcomes kept in memory for the admin console (addresses and KIM codes only; 0: none). */
    recentOutcomes: z.number().int().min(0).max(100_000).default(200),
    /** The account's dataTimeToLive in days (Expires header) when getLimits is not asked (accountLimit.url unset). */
    dataTimeToLiveDays: z.number().int().min(1).default(90),
    /**
     * getLimits at the mail service (gemSpec_CM_KOMLE A_22416, docs/kim-provider-apis.md): asked
     * for every message sent, its maxMailSize checked (A_19355-01), its dataTimeToLive the Expires.
     */
    accountLimit: z
      .object({
        /**
         * The I_AccountLimit_Service base URL, e.g. https://{host}/AccountLimit/v1.1 — `{host}`
         * stands for the mail service's host in the user name. https://, or http:// on loopback
         * only (the password goes with every call). Unset: getLimits is not asked.
         */
        url: z
          .string()
          .regex(/^https?:\/\/[^/@\s]+(\/\S*)?$/, 'must be an http(s) URL without credentials')
          .refine((u) => u.startsWith('https://') || /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/.test(u), 'plain http:// only to a loopback address; use https://')
          .optional(),
        /** The longest an answer is kept per account (A_22416: at most 24 h); a shorter Expires/max-age of the answer wins. */
        cacheTtlMs: duration.max(24 * 3_600_000, 'at most 24 h (A_22416)').default(24 * 3_600_000),
        maxEntries: z.number().int().min(1).default(10_000),
        timeoutMs: z.number().int().min(100).default(10_000),
      })
      .strict()
      .prefault({}),
    /**
     * Which OSIG key of the card signs: `rsa` (KOM-LE-A_2020: PrK.HCI.OSIG.R2048, since not every
     * recipient verifies ECDSA yet), `ecc` (PrK.HCI.OSIG.E256; needs an ECC-capable Konnektor), or
     * `rsa-else-ecc` (RSA, and ECC for a card without an RSA key, e.g. after the RSA shutdown).
     */
    signatureKey: z.enum(['rsa', 'ecc', 'rsa-else-ecc']).default('rsa'),
    /** Largest message a PS may send, in bytes; advertised as EHLO SIZE, which Tab_SMTP_Ant_Init wants ≥ 35882577. */
    maxMessageSize: z.number().int().min(35_882_577, 'at least 35882577 (gemSpec_CM_KOMLE Tab_SMTP_Ant_Init: SIZE)').default(40 * 1024 * 1024),
    maxRecipients: z.number().int().min(1).default(100),
  })
  .strict();
