/**
 * The receive-side result codes. gemSpec_CM_KOMLE fixes the X-KIM-DecryptionResult values and,
 * for X-KIM-IntegrityCheckResult, 08 and 09; 01–07 are Postamt's assignment (docs/crypto.md).
 */
export type DecryptionResult = '00' | '01' | '02' | '03';

export const DECRYPTION_RESULTS: Readonly<Record<DecryptionResult, string>> = {
  '00': 'decrypted',
  '01': 'key not available',
  '02': 'wrong format',
  '03': 'Konnektor not available',
};

export type IntegrityResult = '00' | '01' | '02' | '03' | '04' | '05' | '06' | '07' | '08' | '09' | 'X1';

export const INTEGRITY_RESULTS: Readonly<Record<IntegrityResult, string>> = {
  '00': 'signature and message intact',
  '01': 'signature invalid',
  '02': 'content digest does not match (content altered)',
  '03': 'signer certificate expired or not yet valid',
  '04': 'signer certificate not trusted (no path to a trust anchor)',
  '05': 'signer certificate key usage does not allow signing',
  '06': 'signer does not match the sender address',
  '07': 'signed data malformed or unsupported',
  '08': 'outer and inner headers differ',
  '09': 'recipient-emails differ between signed and unauthenticated copy',
  X1: 'signature could not be checked: Konnektor not available (vendor code)',
};

/** X-KIM-Fehlermeldung values Postamt uses (Tab_Fehlercodes_KOMLE-Clientmodule). */
export type Fehlermeldung = '4008' | '4009' | '4010' | '4011' | '4014' | '4015';

export const FEHLERMELDUNGEN: Readonly<Record<Fehlermeldung, string>> = {
  '4008': 'Das verwendete Client-Modul unterstützt die in der Mail verwendete Version nicht.',
  '4009': 'Die KIM-Nachricht konnte auf Grund eines nicht verfügbaren Schlüssels nicht entschlüsselt werden.',
  '4010': 'Die KIM-Nachricht konnte aufgrund des falschen Formats nicht entschlüsselt werden.',
  '4011': 'Der Konnektor steht für die Entschlüsselung nicht zur Verfügung.',
  '4014':
    'Die Prüfung der Nachricht hat ergeben, dass die Nachricht nach dem Verschlüsseln manipuliert wurde. Möglicherweise wurde die verschlüsselte Nachricht auch an einen nicht empfangsberechtigten Personenkreis versendet.',
  '4015':
    'Die Prüfung der Signatur der Nachricht hat ergeben, dass die Nachricht manipuliert wurde, um einem anderen Nutzer das Entschlüsseln der Nachricht mit einem Schlüssel, der nicht in seinem Besitz ist, zu ermöglichen.',
};
