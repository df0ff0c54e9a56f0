import { BerError, LDAP_BER, TAG, derNode, derPrimitive, derUint, readBer, writeDer } from '../ber/index.js';
import { octets, sequence, uint31 } from './ber-fields.js';
import { LdapDecodeError } from './errors.js';
import { LDAP_OID, type LdapControl } from './protocol.js';

/** The Simple Paged Results control (RFC 2696): requested page size, and the cookie to continue. */
export interface PagedResults {
  size: number;
  cookie: Buffer;
}

/** Decodes realSearchControlValue; a bad value is a non-fatal decode error (the search is refused). */
export function decodePagedResults(control: LdapControl): PagedResults {
  if (!control.value) throw new LdapDecodeError('paged results control without a value', false);
  try {
    const [size, cookie, extra] = sequence(readBer(control.value, 'pagedResults', LDAP_BER), 'pagedResults');
    if (extra) throw new BerError('malformed', 'pagedResults has extra fields');
    return { size: uint31(size, 'size'), cookie: octets(cookie, 'cookie') };
  } catch (err) {
    if (err instanceof BerError) throw new LdapDecodeError(err.message, false);
    throw err;
  }
}

export function encodePagedResults(value: PagedResults, critical = false): LdapControl {
  return {
    type: LDAP_OID.pagedResults,
    critical,
    value: writeDer(derNode(TAG.sequence, [derUint(TAG.integer, value.size), derPrimitive(TAG.octetString, value.cookie)])),
  };
}
