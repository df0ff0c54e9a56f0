/**
 * The VZD directory domain: information model, matching, search planning, attribute
 * selection, LDIF import/export and the feed from the service's accounts. No sockets:
 * the LDAP edge (src/ldap) calls DirectoryLdapBackend.
 */
export { Directory, type DirectoryOptions, type SearchParams, type SearchHit, type NewEntry, type CertificateInfo } from './directory.js';
export { DirectoryLdapBackend, type BindAccounts } from './ldap-backend.js';
export { DirectoryAccountFeed, publishAddress, withdrawAddress, type FedAccount } from './feed.js';
export { importLdif, type ImportOptions, type ImportResult, type ImportProgress, type Rejection } from './import.js';
export { exportLdif, entryToLdif } from './export.js';
export { entryPairs, type DirEntry } from './entry.js';
export { ATTRIBUTES, INDEXED_ATTRIBUTES, type AttributeDef } from './attributes.js';
export { compileFilter } from './match.js';
export { planFilter, candidateSql, type Plan, type IndexTerm } from './plan.js';
export { compileSelection } from './select.js';
export { DirectoryAdmin, directoryOptions, type EntryJson, type EntryInputJson } from './admin.js';
export { certificatesFrom } from './certs.js';
