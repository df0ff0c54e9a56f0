import type { KeyObject } from 'node:crypto';

/** One key of a card with its certificate. */
export interface CardKey {
  readonly certDer: Uint8Array;
  readonly privateKey: KeyObject;
}

/**
 * What the software Konnektor holds for one card (an SMC-B, or a doctor's HBA): the signature
 * keys (C.SIG; for an SMC-B the C.HCI.OSIG key), RSA (R2048) and ECC (E256) as the card has
 * them, and the encryption keys (C.ENC) of both kinds, newest first — more than one per kind
 * during a certificate change, so messages for the old certificate still open.
 */
export interface SoftwareCard {
  readonly signature?: CardKey;
  readonly signatureEcc?: CardKey;
  readonly encryption: readonly CardKey[];
  /** C.HCI.AUT (RSA): the key ExternalAuthenticate signs with (AuthSignatureService). */
  readonly authentication?: CardKey;
}

/** Which kind of key a card key is: its certificate's, which loading has matched to the key. */
export function cryptOf(key: CardKey): 'RSA' | 'ECC' {
  return key.privateKey.asymmetricKeyType === 'ec' ? 'ECC' : 'RSA';
}

/** Loads a card when first used (key files are read and PKCS#12 files decrypted once). */
export type CardLoader = () => Promise<SoftwareCard>;
