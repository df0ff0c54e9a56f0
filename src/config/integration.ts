import { z } from 'zod';
import { throttleSchema } from './throttle.js';

/**
 * `integration:` — the MailStore-compatible Application Integration endpoint, the user
 * sources behind it, own authentication against a source, and archive access
 * (docs/integration.md).
 */

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, _ . - (at most 64)');

const common = {
  name,
  /** Sources are asked in ascending priority (1 before 2); ties in the order listed. */
  priority: z.number().int().min(0).max(1000).default(100),
};

const accountsSource = z
  .object({
    ...common,
    type: z.literal('accounts'),
    /** Only accounts of these domains (default: all). */
    domains: z.array(z.string().min(1)).default([]),
  })
  .strict();

const fileSource = z
  .object({
    ...common,
    type: z.literal('file'),
    /** CSV/text file (relative to dataDir unless absolute); the first line names the columns. */
    path: z.string().min(1),
    delimiter: z.enum([',', ';', ':', '\t']).default(','),
    /** Larger files are refused rather than read into memory. */
    maxBytes: z.number().int().min(1024).default(64 * 1024 * 1024),
  })
  .strict();

const sqlSource = z
  .object({
    ...common,
    type: z.literal('sql'),
    /** `sqlite:<file>` (opened read-only) or `postgres://…`. */
    url: z.string().regex(/^(sqlite:|postgres(ql)?:\/\/)/, 'must start with sqlite: or postgres://'),
    /** Columns userName, fullName, distinguishedName, emailAddresses (any case; addresses comma/semicolon separated, JSON or a PostgreSQL array). */
    listQuery: z.string().min(1),
    /** `:user` → one row with column `password` holding a hash ($scrypt$, $2b$, $argon2id$, $5$, $6$); no row = unknown user. */
    passwordQuery: z.string().min(1).optional(),
    /** `:user`, `:password` → one row whose first column is true when the password is right; no row = unknown user. */
    authQuery: z.string().min(1).optional(),
    /** Rows fetched per round trip while listing (PostgreSQL cursor). */
    fetchSize: z.number().int().min(1).max(100_000).default(2000),
    timeoutMs: z.number().int().min(100).default(30_000),
  })
  .strict()
  .refine((s) => (s.passwordQuery === undefined) !== (s.authQuery === undefined), {
    message: 'an sql source needs exactly one of passwordQuery and authQuery',
  });

const ldapSource = z
  .object({
    ...common,
    type: z.literal('ldap'),
    url: z.string().regex(/^ldaps?:\/\//, 'must start with ldap:// or ldaps://'),
    startTls: z.boolean().default(false),
    /** CA file (relative to dataDir) for ldaps:// or StartTLS. */
    ca: z.string().optional(),
    rejectUnauthorized: z.boolean().default(true),
    /** Bind for searching (anonymous when unset). */
    bindDn: z.string().optional(),
    bindPassword: z.string().optional(),
    baseDn: z.string().min(1),
    scope: z.enum(['base', 'one', 'sub']).default('sub'),
    /** Which entries are users. */
    filter: z.string().min(1).default('(mail=*)'),
    userNameAttribute: z.string().min(1).default('mail'),
    fullNameAttribute: z.string().min(1).default('displayName'),
    emailAttributes: z.array(z.string().min(1)).min(1).default(['mail']),
    /** DN to bind as when authenticating, `{user}` replaced (escaped); unset: the entry's own DN. */
    userDnTemplate: z.string().includes('{user}').optional(),
    pageSize: z.number().int().min(1).max(10_000).default(500),
    timeoutMs: z.number().int().min(100).default(10_000),
  })
  .strict();

const integrationSource = z
  .object({
    ...common,
    type: z.literal('integration'),
    /** Another Application Integration server, e.g. https://host/mailstore-integration/index.php. */
    url: z.string().regex(/^https?:\/\//, 'must start with http:// or https://'),
    user: z.string().min(1),
    password: z.string().min(1),
    /** CA file (relative to dataDir) for its certificate. */
    ca: z.string().optional(),
    rejectUnauthorized: z.boolean().default(true),
    /** Whole cmd=auth exchange. */
    timeoutMs: z.number().int().min(100).default(30_000),
    /** Whole cmd=list exchange: connect, request and the complete answer. */
    listTimeoutMs: z.number().int().min(100).default(30 * 60_000),
    /** Its `cmd=list` answer is read whole (bounded by this) before it is trusted. */
    maxResponseBytes: z.number().int().min(1024).default(256 * 1024 * 1024),
  })
  .strict();

export const userSourceSchema = z.discriminatedUnion('type', [accountsSource, fileSource, sqlSource, ldapSource, integrationSource]);

export const integrationSchema = z
  .object({
    /** Serve the endpoint on the service's HTTP listener. */
    enabled: z.boolean().default(false),
    /** Where; `<path>index.php` is answered too (the seed's URL). */
    path: z.string().regex(/^\/([A-Za-z0-9._~-]+\/)*$/, 'an absolute path ending in /').default('/mailstore-integration/'),
    credentials: z
      .object({
        user: z.string().min(1).default('mailstore'),
        /** Unset: generated into dataDir/integration-password (0600) at first start. Use `${env:NAME}`. */
        password: z.string().min(8).optional(),
      })
      .strict()
      .prefault({}),
    /** The user sources; default: the platform's own accounts. */
    sources: z
      .array(userSourceSchema)
      .default([{ name: 'accounts', type: 'accounts', priority: 100, domains: [] }])
      .refine((s) => new Set(s.map((x) => x.name)).size === s.length, { message: 'source names must be unique' }),
    /** Check the service's SMTP AUTH and POP3 logins against this source (the account must exist locally too). */
    authSource: name.optional(),
    /** The user name the auth source is asked with: the whole address or its local part. */
    authUserName: z.enum(['address', 'localPart']).default('address'),
    /** An account that may read every mailbox over POP3 (SASL PLAIN with the target as authorization identity). */
    archiveUser: z.string().includes('@').optional(),
    /** A local account that gets a copy of every delivered message. */
    journalAddress: z.string().includes('@').optional(),
    /** Largest request body (form-encoded) the endpoint reads. */
    maxBodyBytes: z.number().int().min(256).default(64 * 1024),
    /** `cmd=list` answers are written in chunks of about this many bytes. */
    listChunkBytes: z.number().int().min(1024).default(64 * 1024),
    /** Failed `cmd=auth` per user name … */
    userThrottle: throttleSchema({ freeFailures: 5, baseDelayMs: 1000 }).prefault({}),
    /** … and per client address (MailStore asks for all its users from one address, so more are free). */
    clientThrottle: throttleSchema({ freeFailures: 50, baseDelayMs: 1000 }).prefault({}),
  })
  .strict()
  .refine((i) => i.authSource === undefined || i.sources.some((s) => s.name === i.authSource), {
    message: 'authSource must name one of the sources',
    path: ['authSource'],
  });

export type IntegrationConfig = z.infer<typeof integrationSchema>;
export type UserSourceConfig = z.infer<typeof userSourceSchema>;
