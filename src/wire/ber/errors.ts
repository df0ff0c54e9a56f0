import { PostamtError } from '../../core/index.js';

/**
 * Why bytes are not the BER they should be. Protocol layers map these onto their own answers
 * (LDAP: protocolError or a Notice of Disconnection; CMS: CmsError 'malformed').
 */
export type BerErrorCode =
  /** The input ends inside an element. */
  | 'truncated'
  /** Wrong tag, bad length form, bad contents, trailing bytes, nested too deeply. */
  | 'malformed'
  /** An element announces more bytes than the caller allows. */
  | 'too-large';

export class BerError extends PostamtError {
  declare readonly code: BerErrorCode;

  constructor(code: BerErrorCode, message: string) {
    super(code, message);
    this.name = 'BerError';
  }
}
