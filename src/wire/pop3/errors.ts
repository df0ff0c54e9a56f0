import { PostamtError } from '../../core/index.js';

/** Why a line is not a valid POP3 command; each maps to one -ERR text. */
export type Pop3SyntaxReason =
  | 'empty'
  | 'unknown-command'
  | 'missing-argument'
  | 'extra-argument'
  | 'bad-number'
  | 'bad-argument'
  | 'nul'
  | 'control-character'
  | 'bad-encoding'
  | 'line-too-long';

/**
 * The only error the POP3 codec throws. Its message is written for the client (it becomes the
 * text after `-ERR`), so it never echoes more than a short, sanitised piece of the input.
 */
export class Pop3SyntaxError extends PostamtError {
  constructor(
    readonly reason: Pop3SyntaxReason,
    message: string,
  ) {
    super('pop3-syntax', message);
    this.name = 'Pop3SyntaxError';
  }
}
