/**
 * gematik's TelematikError codes (tel/error/TelematikError.xsd: Error/Trace/Code) that Postamt
 * raises (the simulator) or gives a meaning (the SOAP client), in one table so both sides agree.
 * 4004–4006 are the call-context codes gemSpec_CM_KOMLE names ("antwortet der Konnektor mit
 * einem SOAP Fault (Code: 4004 - 4006)"). The others follow gemSpec_Kon's error tables, which
 * are not among the texts at hand: check them against the Konnektor's manual; a correction is
 * one line here. `meaning` is what the client makes of a code (a KonnektorError code); a code
 * without one is the Konnektor's refusal (`refused`). `staleHandle`: GetCards is read again and
 * the call repeated once.
 */
export type TelematikMeaning = 'unknown-mandant' | 'unknown-client-system' | 'unknown-workplace' | 'card-not-found' | 'key-not-available';

export interface TelematikErrorInfo {
  readonly type: 'Technical' | 'Security';
  readonly text: string;
  readonly meaning?: TelematikMeaning;
  readonly staleHandle?: true;
}

export const TELEMATIK_ERRORS = {
  4000: { type: 'Technical', text: 'Syntaxfehler' },
  4001: { type: 'Technical', text: 'Interner Fehler' },
  4004: { type: 'Technical', text: 'Ungültige Mandanten-ID', meaning: 'unknown-mandant' },
  4005: { type: 'Technical', text: 'Ungültige Clientsystem-ID', meaning: 'unknown-client-system' },
  4006: { type: 'Technical', text: 'Ungültige Arbeitsplatz-ID', meaning: 'unknown-workplace' },
  4008: { type: 'Technical', text: 'Karte nicht als gesteckt identifiziert', meaning: 'card-not-found', staleHandle: true },
  4010: { type: 'Technical', text: 'Clientsystem ist dem Mandanten nicht zugeordnet', meaning: 'unknown-client-system' },
  4011: { type: 'Technical', text: 'Arbeitsplatz ist dem Mandanten nicht zugeordnet', meaning: 'unknown-workplace' },
  4063: { type: 'Security', text: 'PIN blockiert', meaning: 'key-not-available' },
  4085: { type: 'Security', text: 'Zugriffsbedingungen nicht erfüllt', meaning: 'key-not-available' },
  4101: { type: 'Technical', text: 'Kartenhandle ungültig', meaning: 'card-not-found', staleHandle: true },
  4149: { type: 'Technical', text: 'Schlüssel nicht auf der Karte vorhanden', meaning: 'key-not-available' },
  4208: { type: 'Technical', text: 'Entschlüsselung fehlgeschlagen' },
  4253: { type: 'Technical', text: 'Dokument ist nicht signiert' },
} as const satisfies Record<number, TelematikErrorInfo>;

export type TelematikErrorCode = keyof typeof TELEMATIK_ERRORS;

/** The table's entry for a code read from a fault, or undefined for one it does not list. */
export function telematikError(code: number): TelematikErrorInfo | undefined {
  return (TELEMATIK_ERRORS as Readonly<Record<number, TelematikErrorInfo>>)[code];
}
