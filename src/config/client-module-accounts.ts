import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * `clientModule.accounts` and `clientModule.providers`: whom the client module acts for and
 * where it may connect. The KIM user name carries the address, the mail service and the
 * Konnektor call context (Mandant, client system, workplace, user); the password proves only
 * the address, at the mail service. Without these lists anyone who can reach the client module
 * could sign with any practice's card, or make it dial any host and port.
 */

/** Konnektor identifiers as the user name carries them; `*` in a list allows every value. */
const ids = z.array(z.string().min(1)).min(1);

const contextSchema = z
  .object({
    /** The MandantId (konnektor.mandanten[].id). */
    mandant: z.string().min(1),
    /** ClientSystemIds; omitted: every one konnektor.mandanten allows for the Mandant. */
    clientSystems: ids.optional(),
    /** WorkplaceIds; omitted: every one konnektor.mandanten allows for the Mandant. */
    workplaces: ids.optional(),
    /** UserIds (a doctor's HBA, POP3 only); omitted: every HBA of the Mandant. */
    users: ids.optional(),
  })
  .strict();

/** A PKCS#12 file (relative to dataDir) with the client module's TLS certificate and key, as createCert answers it. */
export const clientCertificateFile = z
  .object({
    p12: z.string().min(1),
    /** Its password (createCert's certPassword; empty when none was given). Use `${env:NAME}` to keep it out of the file. */
    password: z.string().default(''),
  })
  .strict();

const ADDRESS = /^[^\s@<>()[\]\\,;:"]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;

export const clientModuleAccounts = z
  .array(
    z
      .object({
        /** The KIM address, as the user name's first field (compared case-insensitively). */
        address: z.string().regex(ADDRESS, 'must be a mail address (local@domain)').transform((a) => a.toLowerCase()),
        /** The call contexts this account may use; a login naming any other is refused. */
        contexts: z.array(contextSchema).min(1),
        /** This account's TLS client certificate towards the mail service (else clientModule.upstream.clientCertificate). */
        clientCertificate: clientCertificateFile.optional(),
      })
      .strict(),
  )
  .default([])
  .refine((as) => new Set(as.map((a) => a.address)).size === as.length, { message: 'each address may be listed once (give one entry several contexts)' });

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export const clientModuleProviders = z
  .array(
    z
      .object({
        /** Exactly this host name or IP address (IPv6 with or without brackets). */
        host: z
          .string()
          .transform((h) => h.replace(/^\[(.*)\]$/, '$1').toLowerCase())
          .refine((h) => isIP(h) !== 0 || HOST_NAME.test(h), 'must be a host name or an IP address')
          .optional(),
        /** The domain and every host name under it (`kim.example` allows `mail.kim.example`, not `evilkim.example`). */
        domain: z
          .string()
          .regex(HOST_NAME, 'must be a domain name')
          .transform((d) => d.toLowerCase())
          .optional(),
        /** Default: KIM's ports, SMTP over implicit TLS and POP3S. */
        ports: z.array(z.number().int().min(1).max(65535)).min(1).default([465, 995]),
      })
      .strict()
      .refine((p) => (p.host === undefined) !== (p.domain === undefined), { message: 'give either host or domain' }),
  )
  .default([]);

export type ClientModuleAccount = z.infer<typeof clientModuleAccounts>[number];
export type ClientModuleProvider = z.infer<typeof clientModuleProviders>[number];
