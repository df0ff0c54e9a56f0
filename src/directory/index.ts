/**
 * The VZD directory domain: information model, matching, search planning, attribute
 * selection, LDIF import/export and the feed from the service's accounts. No sockets:
 * the LDAP edge (src/ldap) calls DirectoryLdapBackend.
 */
export { Directory, type DirectoryOptions } from './directory.js';
export { type SearchParams, type SearchHit, type SearchScope } from './search.js';
export { type NewEntry } from './writes.js';
export { certificatesFrom, type CertificateInfo } from './certificates.js';
export { certificateDetails, type CertificateDetails } from './certificate-details.js';
export { DirectoryError, type DirectoryErrorKind } from './errors.js';
export { DirectoryLdapBackend, type BindAccounts } from './ldap-backend.js';
export { DirectoryAccountFeed, publishAddress, withdrawAddress, type FedAccount } from './feed.js';
export { importLdif, type ImportOptions, type ImportResult, type ImportProgress, type Rejection } from './import.js';
export { exportLdif, entryToLdif } from './export.js';
export { entryPairs, type DirEntry } from './entry.js';
export { ATTRIBUTES, INDEXED_ATTRIBUTES, type AttributeDef } from './attributes.js';
export { compileFilter } from './match.js';
export { planFilter, type Plan, type IndexTerm } from './plan.js';
export { candidateSql } from './repo-search.js';
export { compileSelection } from './select.js';
export { DirectoryAdmin, directoryOptions, type EntryJson, type EntryInputJson } from './admin.js';
