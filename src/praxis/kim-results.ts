import { DECRYPTION_RESULTS, INTEGRITY_RESULTS, TAB_FEHLERCODES } from '../crypto/komle/index.js';

/**
 * The client module's X-KIM result header fields (gemSpec_CM_KOMLE: X-KIM-DecryptionResult with
 * Tab_Fehlertext_Entschl, X-KIM-IntegrityCheckResult with Tab_Verm_Sig_Prüf, X-KIM-Fehlermeldung
 * with Tab_Fehlercodes_KOMLE-Clientmodule; each may repeat) read into plain words for people: a
 * status of three and one sentence in German and English.
 */
export type KimStatus = 'ok' | 'warning' | 'error';

export interface KimResult {
  status: KimStatus;
  text_de: string;
  text_en: string;
  decryption: string[];
  integrity: string[];
  fehlermeldung: string[];
  /** A failure message of the client module (the message could not be decrypted, or an unsupported version). */
  failureMessage: boolean;
}

export const KIM_HEADERS = {
  decryption: 'x-kim-decryptionresult',
  integrity: 'x-kim-integritycheckresult',
  fehlermeldung: 'x-kim-fehlermeldung',
  dienstkennung: 'x-kim-dienstkennung',
} as const;

const DECRYPTION_EN: Record<string, string> = {
  '00': 'decrypted',
  '01': 'could not be decrypted: the key is not available (is the card inserted?)',
  '02': 'could not be decrypted: wrong format',
  '03': 'could not be decrypted: the Konnektor is not available',
  X01: 'altered after encryption',
};
const INTEGRITY_EN: Record<string, string> = {
  '01': 'signature valid',
  '02': 'integrity violated',
  '03': 'no signature',
  '04': 'signature in the wrong format',
  '05': 'certification path not valid',
  '06': 'the signature could not be checked (Konnektor error)',
  '07': 'signature valid, certificate status not checked',
  '08': 'outer and inner header differ',
  '09': 'recipient list manipulated',
  X01: 'the Konnektor could not verify the signature',
  X02: 'the sender is not named in the signer certificate',
};

const codesOf = (v: string[] | undefined): string[] => (v ?? []).flatMap((x) => x.split(/[\s,]+/)).filter((x) => /^[A-Z0-9]{1,8}$/i.test(x));

/** `headers`: every value of each field by lower-case name. `subject` helps recognise failure messages. */
export function kimResultOf(headers: Map<string, string[]>, subject: string): KimResult {
  const decryption = codesOf(headers.get(KIM_HEADERS.decryption));
  const integrity = codesOf(headers.get(KIM_HEADERS.integrity));
  const fehlermeldung = codesOf(headers.get(KIM_HEADERS.fehlermeldung));
  const failureMessage = (decryption.length > 0 && decryption.some((c) => c !== '00')) || subject === 'Die Nachricht konnte nicht entschlüsselt werden' || fehlermeldung.includes('4008');
  const base = { decryption, integrity, fehlermeldung, failureMessage };
  const fehl = (lang: 'de' | 'en') => fehlermeldung.map((c) => (lang === 'de' ? (TAB_FEHLERCODES as Record<string, string>)[c] : undefined) ?? `code ${c}`);
  if (decryption.length === 0 && integrity.length === 0) {
    if (fehlermeldung.length > 0) return { ...base, status: 'error', text_de: `Meldung des Clientmoduls: ${fehl('de').join('; ')}`, text_en: `Client module report: codes ${fehlermeldung.join(', ')}`, failureMessage: true };
    return { ...base, status: 'warning', text_de: 'Keine KIM-Nachricht: nicht verschlüsselt und nicht signiert', text_en: 'Not a KIM message: neither encrypted nor signed' };
  }
  const badDecryption = decryption.filter((c) => c !== '00');
  if (badDecryption.length > 0 || decryption.length === 0) {
    const c = badDecryption[0] ?? '?';
    const de = (DECRYPTION_RESULTS as Record<string, { condition: string }>)[c]?.condition ?? `Die Nachricht konnte nicht entschlüsselt werden (Code ${c}).`;
    return { ...base, status: 'error', text_de: de, text_en: `The message ${DECRYPTION_EN[c] ?? `could not be decrypted (code ${c})`}.`, failureMessage: true };
  }
  const badIntegrity = integrity.filter((c) => c !== '01' && c !== '07');
  if (badIntegrity.length > 0 || integrity.length === 0) {
    const c = badIntegrity[0] ?? '?';
    const de = (INTEGRITY_RESULTS as Record<string, { result: string }>)[c]?.result ?? `Die Signatur konnte nicht geprüft werden (Code ${c}).`;
    return { ...base, status: 'error', text_de: `Entschlüsselt, aber: ${de}`, text_en: `Decrypted, but: ${INTEGRITY_EN[c] ?? `signature not checked (code ${c})`}.` };
  }
  if (integrity.includes('07')) return { ...base, status: 'warning', text_de: 'Entschlüsselt; Signatur gültig, Zertifikatsstatus nicht geprüft', text_en: 'Decrypted; signature valid, certificate status not checked' };
  return { ...base, status: 'ok', text_de: 'Entschlüsselt, Signatur gültig', text_en: 'Decrypted, signature valid' };
}
