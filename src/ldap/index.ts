// The LDAP protocol edge (RFC 4511): listeners, sessions, limits, TLS. The directory's
// information model lives behind the LdapBackend interface.
export { LdapServer } from './server.js';
export { resolveLimits, type LdapLimits, type LdapServerOptions } from './options.js';
export { LdapResultCode, LdapResultError, type LdapBackend, type LdapSearch, type LdapEntry, type LdapAttribute, type SearchScope, type LdapResultCodeName } from './backend.js';
