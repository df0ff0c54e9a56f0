import { PostamtError } from '../../core/index.js';

export type KomleErrorCode =
  /** The primary system's message cannot be sealed: no header block, unreadable header fields. */
  | 'invalid-message'
  /** The caller's options are unusable (no recipients, a bad version string, a bad TTL). */
  | 'invalid-input';

/** Sealing failed because of the input; Konnektor and CMS failures keep their own error types. */
export class KomleError extends PostamtError {
  declare readonly code: KomleErrorCode;

  constructor(code: KomleErrorCode, message: string) {
    super(code, message);
    this.name = 'KomleError';
  }
}
