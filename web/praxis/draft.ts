/** The message being written; kept in the app so recipients found by the search land in it. */
export interface Draft {
  to: string;
  cc: string;
  subject: string;
  text: string;
  /** One of DIENSTKENNUNGEN, or OTHER with the free input in dienstkennungFree. */
  dienstkennung: string;
  dienstkennungFree: string;
  files: File[];
}

/** Common KIM Dienstkennungen (gematik's list); anything else by free input. */
export const DIENSTKENNUNGEN = ['KIM-Mail;Default;V1.0', 'eAU;Lieferung;V1.0', 'Arztbrief;VHitG-Versand;V1.2'] as const;
export const OTHER = 'other';

export const emptyDraft = (): Draft => ({ to: '', cc: '', subject: '', text: '', dienstkennung: DIENSTKENNUNGEN[0], dienstkennungFree: '', files: [] });

/** "a@x, b@y" → ["a@x", "b@y"]; also splits on semicolons and whitespace, as people type them. */
export const addresses = (field: string): string[] => field.split(/[,;\s]+/).map((a) => a.trim()).filter((a) => a !== '');

/** The draft's To with `mail` added once (case-insensitively). */
export function withRecipient(d: Draft, mail: string): Draft {
  const to = addresses(d.to);
  if (to.some((a) => a.toLowerCase() === mail.toLowerCase())) return d;
  return { ...d, to: [...to, mail].join(', ') };
}

export const hasRecipient = (d: Draft, mail: string): boolean => addresses(d.to).concat(addresses(d.cc)).some((a) => a.toLowerCase() === mail.toLowerCase());
