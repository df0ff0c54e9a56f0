/**
 * The receive-side result codes and texts of gemSpec_CM_KOMLE 1.16: X-KIM-DecryptionResult
 * (Tab_Fehlertext_Entschl; 00 for success as gematik's FAQ names it), X-KIM-IntegrityCheckResult
 * (Tab_Verm_Sig_Prüf) and X-KIM-Fehlermeldung (Tab_Fehlercodes_KOMLE-Clientmodule). Codes outside
 * the tables are vendor codes starting with "X" (A_20650-05, KOM-LE-A_2047-02, A_23165); Postamt's
 * are listed here with their meaning (docs/crypto.md).
 */
export type DecryptionResult = '00' | '01' | '02' | '03' | 'X01' | 'X02';

export interface DecryptionResultText {
  /** The table's "Bedingung" (or ours for a vendor code). */
  readonly condition: string;
  /** The table's "Fehlertext" for the failure message; `<Email Adresse>` is the fetching user's address. */
  readonly text: string;
}

export const DECRYPTION_RESULTS: Readonly<Record<DecryptionResult, DecryptionResultText>> = {
  '00': {
    condition: 'Die KOM-LE-Nachricht wurde erfolgreich entschlüsselt.',
    text: 'Die KOM-LE-Nachricht wurde erfolgreich entschlüsselt.',
  },
  '01': {
    condition: 'Die KOM-LE-Nachricht konnte auf Grund eines nicht verfügbaren Schlüssels nicht entschlüsselt werden.',
    text:
      'Der für die Entschlüsselung der Nachricht benötigte Schlüssel wurde nicht gefunden. Überprüfen Sie ob die entsprechende Karte gesteckt ist ' +
      'und leiten Sie diese Nachricht an Ihre eigene E-Mail-Adresse (<Email Adresse>) weiter. Beim nächsten Abholen wird der Entschlüsselungsvorgang wiederholt.',
  },
  '02': {
    condition: 'Die KOM-LE-Nachricht konnte aufgrund des falschen Formats nicht entschlüsselt werden.',
    text:
      'Die Nachricht wurde als eine verschlüsselte KIM-Nachricht gekennzeichnet, konnte aber auf Grund des falschen Formats nicht entschlüsselt werden. ' +
      'Die Verschlüsselte Nachricht befindet sich im Anhang. Bitte kontaktieren Sie den Absender der Nachricht.',
  },
  '03': {
    condition: 'Der Konnektor steht für die Entschlüsselung nicht zur Verfügung.',
    text:
      'Die Entschlüsselung konnte nicht erfolgen, weil der Konnektor nicht antwortet. Stellen Sie sicher, dass der Konnektor wieder zur Verfügung steht ' +
      'und leiten Sie diese Nachricht an Ihre eigene E-Mail-Adresse (<Email Adresse>) weiter. Beim nächsten Abholen wird der Entschlüsselungsvorgang wiederholt.',
  },
  // Vendor code: the AES-GCM tag does not match, the ciphertext was altered after encryption.
  X01: {
    condition: 'Die KOM-LE-Nachricht wurde nach dem Verschlüsseln verändert (die Authentisierung des verschlüsselten Inhalts ist fehlgeschlagen).',
    text:
      'Die Nachricht wurde nach dem Verschlüsseln verändert und konnte deshalb nicht entschlüsselt werden. ' +
      'Die verschlüsselte Nachricht befindet sich im Anhang. Bitte kontaktieren Sie den Absender der Nachricht.',
  },
  // Vendor code: the Konnektor answered the decryption with a fault of its own (its code is in the log).
  X02: {
    condition: 'Der Konnektor hat die Entschlüsselung mit einer Fehlermeldung abgelehnt.',
    text:
      'Der Konnektor hat die Entschlüsselung der Nachricht abgelehnt. Wenden Sie sich mit der Uhrzeit dieser Nachricht an die Betreuung Ihres Konnektors ' +
      'und leiten Sie diese Nachricht an Ihre eigene E-Mail-Adresse (<Email Adresse>) weiter, sobald der Fehler behoben ist. Beim nächsten Abholen wird der Entschlüsselungsvorgang wiederholt.',
  },
};

export type IntegrityResult = '01' | '02' | '03' | '04' | '05' | '06' | '07' | '08' | '09' | 'X01' | 'X02';

export interface IntegrityResultText {
  /** Whether the table counts it as a valid signature (01 and 07). */
  readonly valid: boolean;
  /** The Konnektor's error code the table names, where it names one. */
  readonly konnektorCode?: string;
  /** The table's "Ergebnis". */
  readonly result: string;
}

export const INTEGRITY_RESULTS: Readonly<Record<IntegrityResult, IntegrityResultText>> = {
  '01': { valid: true, result: 'Die Signatur der Nachricht wurde erfolgreich geprüft.' },
  '02': { valid: false, konnektorCode: '4115', result: 'Die Integrität der Nachricht wurde verletzt.' },
  '03': { valid: false, konnektorCode: '4253', result: 'Die digitale Signatur ist nicht vorhanden.' },
  '04': { valid: false, konnektorCode: '4112', result: 'Die digitale Signatur konnte aufgrund des falschen Formats nicht geprüft werden.' },
  '05': { valid: false, konnektorCode: '4206', result: 'Der Zertifizierungspfad des Signaturzertifikats kann nicht validiert werden.' },
  '06': { valid: false, result: 'Die digitale Signatur konnte aufgrund eines nicht zuordenbaren Fehlercodes des Konnektors nicht geprüft werden.' },
  '07': {
    valid: true,
    konnektorCode: '4264',
    result: 'Die digitale Signatur ist mathematisch korrekt, der Zertifikatsstatus des Signaturzertifikats konnte aber nicht geprüft werden.',
  },
  '08': {
    valid: false,
    result:
      'Die digitale Signatur ist mathematisch korrekt und der Zertifikatsstatus des Signaturzertifikats konnte erfolgreich geprüft werden, aber beim Vergleich ' +
      'der Header-Elemente from, sender, reply-to, to und cc der äußeren Nachricht mit denen der inneren Nachricht wurden Abweichungen festgestellt.',
  },
  '09': {
    valid: false,
    result:
      'Die digitale Signatur ist mathematisch korrekt und der Zertifikatsstatus des Signaturzertifikats konnte erfolgreich geprüft werden, aber das ' +
      'recipient-emails-Attribut aus signerInfos enthält nicht die gleichen Werte wie das recipient-emails-Attribut aus dem enveloped-data CMS-Objekt.',
  },
  // Vendor codes.
  X01: { valid: false, result: 'Die digitale Signatur konnte nicht geprüft werden, weil der Konnektor nicht zur Verfügung steht.' },
  X02: { valid: false, result: 'Der Absender der Nachricht (from) ist keine der im Signaturzertifikat genannten E-Mail-Adressen.' },
};

/** The Vermerk the table gives for a valid signature (01 and 07). */
export const VERMERK_DECRYPTED = 'Die Nachricht wurde entschlüsselt.';
export const VERMERK_SIGNATURE_VALID = 'Die Signatur wurde erfolgreich geprüft.';

/** A_23165: what replaces the body after a failed integrity check. */
export const SICHERHEITSVERLETZUNG =
  'Beim Empfang dieser KIM-Nachricht wurde eine Sicherheitsverletzung erkannt. Dies kann eine technisches Ursache haben oder auf eine missbräuchliche ' +
  'Nutzung des KIM-Dienstes hinweisen. Zu Ihrem Schutz wurde der Inhalt dieser Nachricht durch diesen Text ausgetauscht. ' +
  'Bitte kontaktieren Sie den Absender und/oder Ihren Administrator.';

/** gematik's FAQ on A_23165: the sentence added when the decrypted original is embedded. */
export const SICHERHEITSVERLETZUNG_EMBEDDED =
  'Die entschlüsselte Nachricht wurde in diese Fehlernachricht eingebettet und kann, abhängig vom verwendeten E-Mail-Client, in eigener Verantwortung ' +
  'eingesehen bzw. verarbeitet werden.';

/**
 * Tab_Fehlercodes_KOMLE-Clientmodule, whole (A_20650-05): the X-KIM-Fehlermeldung values. The
 * send side puts them into the reports for the sender (clientmodule/send-codes.ts adds its vendor
 * codes), the receive side into the failure messages and result fields.
 */
export const TAB_FEHLERCODES = {
  // beim Senden
  '4001': 'Empfänger entfernt, wegen falscher KIM-Version',
  '4002': 'Verschlüsselte E-Mail-Daten konnten nicht zum KOM-LE-Attachment-Service übertragen werden',
  '4003': 'keine eindeutige Telematik-ID mit Verschlüsselungszertifikat gefunden',
  '4004': 'Nachricht nicht für alle Empfänger verschlüsselbar',
  '4005': 'Für einen Empfänger existieren mehrere Verschlüsselungszertifikate mit unterschiedlichen Telematik-IDs',
  // beim Empfangen
  '4006': 'Verschlüsselte E-Mail-Daten konnten nicht vom KOM-LE-Attachment-Service geladen werden',
  '4007': 'Beim Entschlüsseln der E-Mail-Daten ist ein Fehler aufgetreten',
  '4008': 'Das verwendete Clientmodul unterstützt die in der Mail verwendete Version nicht',
  '4009': 'Die Nachricht konnte auf Grund eines nicht verfügbaren Schlüssels nicht entschlüsselt werden',
  '4010': 'Die Nachricht konnte aufgrund des falschen Formats nicht entschlüsselt werden',
  '4011': 'Der Konnektor steht für die Entschlüsselung nicht zur Verfügung',
  '4012':
    'Die Prüfsumme der E-Mail-Daten stimmt nicht mit der beigefügten Prüfsumme überein. Die empfangene aufbereitete Client-Mail entspricht eventuell nicht der vom Sender auf dem KAS hinterlegten aufbereiteten Client-Mail.',
  '4013': 'Verschlüsselte E-Mail-Daten konnten nicht heruntergeladen werden, da durch zu häufigen Zugriff der KOM-LE-Attachment-Service den Abruf verweigert.',
  '4014':
    'Die Prüfung der Nachricht hat ergeben, dass die Nachricht nach dem Verschlüsseln manipuliert wurde. Möglicherweise wurde die verschlüsselte Nachricht auch an einen nicht empfangsberechtigten Personenkreis versendet.',
  '4015':
    'Die Prüfung der Signatur der Nachricht hat ergeben, dass die Nachricht manipuliert wurde, um einem anderen Nutzer das Entschlüsseln der Nachricht mit einem Schlüssel, der nicht in seinem Besitz ist, zu ermöglichen.',
  '4018': 'Die Auswertung der KOM-LE-Version bei Nachrichten mit KAS-Content hat ergeben, dass die Größe der Nachricht nicht den festgelegten Account-Einstellungen entspricht.',
  // sonstige
  '4016': 'Bei der Aktualisierung der PKCS#12-Datei ist ein Fehler aufgetreten',
  '4017': 'Die KIM-Version des Clientmoduls ist kleiner als die im Verzeichnisdienst zu seinem Eintrag hinterlegte Version',
} as const;
export type Fehlercode = keyof typeof TAB_FEHLERCODES;

/** The X-KIM-Fehlermeldung values the receive side gives today. */
export type Fehlermeldung = Extract<Fehlercode, '4008' | '4009' | '4010' | '4011' | '4014' | '4015'>;

export const FEHLERMELDUNGEN: Readonly<Record<Fehlermeldung, string>> = TAB_FEHLERCODES;

/** A_21391-02 subject and KOM-LE-A_2046 subject of the failure messages. */
export const SUBJECT_NOT_DECRYPTED = 'Die Nachricht konnte nicht entschlüsselt werden';
export const SUBJECT_VERSION_UNSUPPORTED = 'Die KIM-Version der empfangenen Nachricht wird nicht unterstützt';
