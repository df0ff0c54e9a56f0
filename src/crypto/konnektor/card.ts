import type { KeyObject } from 'node:crypto';

/** One key of a card with its certificate. */
export interface CardKey {
  readonly certDer: Uint8Array;
  readonly privateKey: KeyObject;
}

/**
 * What the software Konnektor holds for one card (an SMC-B, or a doctor's HBA): the signature
 * key (C.SIG; for an SMC-B the C.HCI.OSIG key) and the encryption keys (C.ENC), newest first —
 * more than one during a certificate change, so messages for the old certificate still open.
 */
export interface SoftwareCard {
  readonly signature?: CardKey;
  readonly encryption: readonly CardKey[];
}

/** Loads a card when first used (key files are read and PKCS#12 files decrypted once). */
export type CardLoader = () => Promise<SoftwareCard>;
