import { TAB_FEHLERCODES, type Fehlercode } from '../crypto/index.js';

/**
 * The X-KIM-Fehlermeldung codes the client module puts into the reports it sends the sender
 * (gemSpec_CM_KOMLE A_20650-05, Tab_Fehlercodes_KOMLE-Clientmodule, "Fehlermeldungen beim Senden"
 * and 4017), with the table's text. Codes for what the table does not name start with `X`
 * (vendor codes); Postamt's are X01 and X02. The receive side's codes live in crypto/komle.
 */
export type SendFehlercode = Extract<Fehlercode, '4003' | '4004' | '4005' | '4017'> | 'X01' | 'X02';

export const SEND_FEHLERCODES: Readonly<Record<SendFehlercode, string>> = {
  '4003': TAB_FEHLERCODES['4003'],
  '4004': TAB_FEHLERCODES['4004'],
  '4005': TAB_FEHLERCODES['4005'],
  '4017': TAB_FEHLERCODES['4017'],
  X01: 'Der KIM-Fachdienst hat die Nachricht für diesen Empfänger abgelehnt',
  X02: 'Die Nachricht für diesen Empfänger konnte nicht signiert, verschlüsselt oder an den KIM-Fachdienst übertragen werden',
};
