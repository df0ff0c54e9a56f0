import { PostamtError } from '../../core/index.js';
import type { LdapOperationType } from './protocol.js';

/**
 * A request the codec cannot accept. `fatal` ones (broken BER, no message ID, an unknown
 * protocolOp) leave the session unusable: RFC 4511 4.1.1 asks for a Notice of Disconnection and
 * closing. Others are well-formed BER with a bad field (a filter nested too deeply): the server
 * answers that one request with protocolError and carries on.
 */
export class LdapDecodeError extends PostamtError {
  constructor(
    message: string,
    readonly fatal: boolean,
    /** The message ID, when it could be read. */
    readonly messageId?: number,
    /** The request type, when it could be recognised. */
    readonly requestType?: LdapOperationType,
  ) {
    super('ldap-decode', message);
    this.name = 'LdapDecodeError';
  }
}

/** A string-form filter (RFC 4515) that does not parse. */
export class LdapFilterSyntaxError extends PostamtError {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super('ldap-filter-syntax', message);
    this.name = 'LdapFilterSyntaxError';
  }
}
