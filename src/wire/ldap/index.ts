// LDAPv3 wire codec (RFC 4511, 4515, 2696): pure functions over bytes, no I/O.
export type { LdapFilter } from './filter-ast.js';
export { OP, LDAP_OID, RESPONSE_OP, type LdapControl, type LdapRequest, type LdapOperation, type LdapOperationType, type PartialAttribute, type BindAuthentication } from './protocol.js';
export { LdapDecodeError, LdapFilterSyntaxError } from './errors.js';
export { decodeLdapMessage, type DecodeOptions } from './message-decode.js';
export { decodeFilter, FilterTooDeepError } from './filter-decode.js';
export { parseFilter, formatFilter, escapeFilterValue, type ParseFilterOptions } from './filter-string.js';
export {
  ldapMessage,
  resultMessage,
  bindResponse,
  searchResultEntry,
  searchResultEntryOp,
  searchResultDone,
  compareResponse,
  extendedResponse,
  noticeOfDisconnection,
  encodeMessage,
  encodeMessages,
  type LdapResultFields,
  type ExtendedResponseFields,
} from './message-encode.js';
export { encodeRequest, encodeFilter } from './request-encode.js';
export { decodePagedResults, encodePagedResults, type PagedResults } from './paged-results.js';
export { decodeLdapResponse, type LdapResponse } from './response-decode.js';
export { parseDn, formatDn, normaliseDn, normaliseDnString, normaliseDnValue, escapeDnValue, DnSyntaxError, type Dn, type Rdn, type Ava } from './dn.js';
