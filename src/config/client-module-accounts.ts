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

const ADDRESS = /^[^\s@<>()[\]\\,;:"]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;

export const clientModuleAccounts = z
  .array(
    z
      .object({
        /** The KIM address, as the user name's first field (compared case-insensitively). */
        address: z.string().regex(ADDRESS, 'must be a mail address (local@domain)').transform((a) => a.toLowerCase()),
        /** The call contexts this account may use; a login naming any other is refused. */
        contexts: z.array(contextSchema).min(1),
      })
      .strict(),
  )
  .default([])
  .refine((as) => new Set(as.map((a) => a.address)).size === as.length, { message: 'each address may be listed once (give one entry several contexts)' });

export type ClientModuleAccount = z.infer<typeof clientModuleAccounts>[number];
