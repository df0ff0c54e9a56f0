import { PostamtError } from '../../core/index.js';

/**
 * Why the Konnektor refused or failed. The client module maps these onto its answers: context
 * errors at login (SMTP 535/POP3 -ERR), `card-not-found`/`key-not-available` onto
 * X-KIM-DecryptionResult 01 or SMTP 451, `unavailable` onto 03 or SMTP 451, `refused` (a fault
 * with a code of its own) onto the vendor code X02 or SMTP 451.
 */
export type KonnektorErrorCode =
  /** No Mandant with this MandantId. */
  | 'unknown-mandant'
  /** The ClientSystemId is not registered for this Mandant. */
  | 'unknown-client-system'
  /** The WorkplaceId is not allowed for this Mandant. */
  | 'unknown-workplace'
  /** The Mandant (or the given UserId) has no card: no SMC-B/HBA configured, or its files are missing. */
  | 'card-not-found'
  /** The card exists but the key cannot be used: no such key on it, wrong PIN/password, key and certificate do not match. */
  | 'key-not-available'
  /** The Konnektor answered with a fault this layer has no meaning for (its TelematikError code is in the message). */
  | 'refused'
  /** The Konnektor cannot be reached or answered nonsense. */
  | 'unavailable';

export class KonnektorError extends PostamtError {
  declare readonly code: KonnektorErrorCode;

  constructor(code: KonnektorErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message);
    this.name = 'KonnektorError';
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** Errors about the caller's context rather than the card or the Konnektor's health. */
export function isContextError(err: unknown): err is KonnektorError {
  return err instanceof KonnektorError && (err.code === 'unknown-mandant' || err.code === 'unknown-client-system' || err.code === 'unknown-workplace');
}
