import { PostamtError } from '../../core/index.js';
import { BerError } from '../../wire/ber/index.js';

/**
 * Why a CMS operation failed. The receive pipeline maps these onto KOM-LE result headers
 * (X-KIM-DecryptionResult, X-KIM-Fehlermeldung), so each code names one cause.
 */
export type CmsErrorCode =
  /** The caller's own arguments are unusable: a bad certificate or key, no recipients, a non-IA5 address. */
  | 'invalid-input'
  /** The bytes are not the CMS structure they claim to be: truncated, wrong tags, wrong lengths, trailing data. */
  | 'malformed'
  /** Well-formed, but a content type, version or algorithm this layer does not implement. */
  | 'unsupported'
  /** No RecipientInfo of the AuthEnvelopedData names our certificate. */
  | 'no-recipient'
  /** The content-encryption key could not be unwrapped: wrong private key or a damaged encryptedKey. */
  | 'decrypt-failed'
  /** AES-GCM authentication failed: ciphertext, tag or authenticated attributes were changed. */
  | 'tag-mismatch'
  /** The SignerInfo names a certificate that the SignedData does not carry. */
  | 'signer-not-found'
  /** An exception nobody expected: a bug in this layer. Tests treat it as a failure. */
  | 'internal';

export class CmsError extends PostamtError {
  declare readonly code: CmsErrorCode;

  constructor(code: CmsErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message);
    this.name = 'CmsError';
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/**
 * Runs `fn`, turning any exception that is not already a CmsError into one with `code`.
 * Used around third-party decoders (asn1js, PKI.js, node:crypto) whose errors are untyped.
 */
export function guard<T>(code: CmsErrorCode, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CmsError) throw err;
    // The shared BER reader raises its own typed error; to CMS callers those bytes are malformed.
    if (err instanceof BerError) throw new CmsError('malformed', err.message, { cause: err });
    throw new CmsError(code, `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** The public entry points' last line of defence: whatever escapes becomes a typed 'internal' error. */
export function typed<T>(what: string, fn: () => T): T {
  return guard('internal', what, fn);
}

/** For public decoders outside `typed`: the shared BER reader's errors become 'malformed', others pass. */
export function berAsMalformed<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof BerError) throw new CmsError('malformed', err.message, { cause: err });
    throw err;
  }
}
