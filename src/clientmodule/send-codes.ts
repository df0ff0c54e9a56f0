/**
 * The X-KIM-Fehlermeldung codes the client module puts into the reports it sends the sender
 * (gemSpec_CM_KOMLE A_20650-05, Tab_Fehlercodes_KOMLE-Clientmodule, "Fehlermeldungen beim Senden"
 * and 4017), with the table's text. Codes for what the table does not name start with `X`
 * (vendor codes); Postamt's are X01 and X02. The receive side's codes live in crypto/komle.
 */
export type SendFehlercode = '4003' | '4004' | '4005' | '4017' | 'X01' | 'X02';

export const SEND_FEHLERCODES: Readonly<Record<SendFehlercode, string>> = {
  '4003': 'keine eindeutige Telematik-ID mit Verschlüsselungszertifikat gefunden',
  '4004': 'Nachricht nicht für alle Empfänger verschlüsselbar',
  '4005': 'Für einen Empfänger existieren mehrere Verschlüsselungszertifikate mit unterschiedlichen Telematik-IDs',
  '4017': 'Die KIM-Version des Clientmoduls ist kleiner als die im Verzeichnisdienst zu seinem Eintrag hinterlegte Version',
  X01: 'Der KIM-Fachdienst hat die Nachricht für diesen Empfänger abgelehnt',
  X02: 'Die Nachricht für diesen Empfänger konnte nicht signiert, verschlüsselt oder an den KIM-Fachdienst übertragen werden',
};
