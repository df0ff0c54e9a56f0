// The KOM-LE message (gemSMIME_KOMLE): seal the primary system's message into the signed and
// encrypted outer message, open a received one into the inner message and result codes, and
// present the outcome to the primary system. Pure over bytes; the cryptography goes through a
// Konnektor.
export { sealMessage, missingInnerFields, type SealOptions, type SealedMessage, type SignatureKeyChoice } from './seal.js';
export { openMessage, type OpenOptions, type OpenResult, type OpenCheck, type OpenCheckName } from './open.js';
export { presentForPrimarySystem, failureMessage, type PresentOptions, type IntegrityFailureMode } from './present.js';
export { KomleError, type KomleErrorCode } from './errors.js';
export { certificateMailAddresses } from './signer-addresses.js';
export {
  DECRYPTION_RESULTS,
  INTEGRITY_RESULTS,
  FEHLERMELDUNGEN,
  TAB_FEHLERCODES,
  type Fehlercode,
  VERMERK_DECRYPTED,
  VERMERK_SIGNATURE_VALID,
  SICHERHEITSVERLETZUNG,
  SUBJECT_NOT_DECRYPTED,
  SUBJECT_VERSION_UNSUPPORTED,
  type DecryptionResult,
  type IntegrityResult,
  type Fehlermeldung,
} from './result-codes.js';
export {
  CM_VERSION,
  PT_VERSION,
  CM_VERSION_PATTERN,
  PT_VERSION_PATTERN,
  KOMLE_VERSIONS,
  DEFAULT_KOMLE_VERSION,
  CM_KOMLE_VERSION,
  KON_VERSION_PATTERN,
  KOMLE_SUBJECT,
  DEFAULT_DIENSTKENNUNG,
  DEFAULT_DATA_TIME_TO_LIVE_DAYS,
  type KomLeVersion,
} from './constants.js';
