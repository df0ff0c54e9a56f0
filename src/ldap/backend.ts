import type { LdapFilter } from '../wire/ldap/filter-ast.js';
import type { DerPart } from '../wire/ber/index.js';

/**
 * What the LDAP edge needs from the directory. The edge owns sockets, TLS, BER, limits,
 * paging cookies, the root DSE and abandon; the backend owns the information model: which
 * entries exist, attribute names and aliases, matching rules, attribute selection.
 * Any method may throw an LdapResultError to answer the client with that result code.
 */
export type SearchScope = 'base' | 'one' | 'sub';

export interface LdapSearch {
  /** The base DN as the client sent it (not normalised). */
  baseDn: string;
  scope: SearchScope;
  filter: LdapFilter;
  /**
   * The requested attribute list as sent: empty or `*` = all user attributes, `1.1` = none,
   * `+` = operational attributes, names with options such as `userCertificate;binary`.
   * The backend maps aliases (street/streetAddress, l/localityName, …) and returns each
   * attribute under the name the client asked for.
   */
  attributes: string[];
  typesOnly: boolean;
  /** At most this many entries are yielded (the edge passes its size limit + 1 or a page size + 1). */
  limit: number;
  /** Resume after the entry with this key (from DirectoryEntry.resumeKey of an earlier search). */
  after?: string;
  /** Aborted on abandon, unbind, disconnect or time limit; the backend stops early. */
  signal: AbortSignal;
}

export interface LdapAttribute {
  type: string;
  values: Buffer[];
}

export interface LdapEntry {
  dn: string;
  attributes: LdapAttribute[];
  /** An opaque, stable position in the result order, for paged results. */
  resumeKey: string;
  /**
   * The same entry as a SearchResultEntry protocolOp (wire/ldap searchResultEntryOp of dn and
   * attributes), when the backend keeps it ready: the edge then only wraps it with the message ID.
   */
  encoded?: DerPart;
}

export interface LdapBackend {
  /** The naming contexts published in the root DSE, e.g. ['dc=data,dc=vzd']. */
  namingContexts(): string[];
  /**
   * Simple bind. Resolves with the bound identity (for logs), or null when the credentials
   * are wrong (the edge answers invalidCredentials after its failure delay).
   */
  bind(dn: string, password: string): Promise<string | null>;
  /** Yields matching entries in a stable order. Throws LdapResultError(noSuchObject) for a missing base. */
  search(req: LdapSearch): AsyncIterable<LdapEntry>;
  /**
   * Optional: the same search answered at once from memory, when the backend can (say, an
   * equality lookup in an index held in memory with every entry cached). Returns exactly the
   * entries search() would yield (at most `limit`), or undefined when it cannot answer without
   * waiting; the edge then calls search(). A backend should answer here only for small results
   * (the edge writes them in one buffer, without waiting for the socket to drain).
   */
  searchNow?(req: Omit<LdapSearch, 'signal'>): LdapEntry[] | undefined;
}

/** RFC 4511 Appendix A result codes the server uses. */
export const LdapResultCode = {
  success: 0,
  operationsError: 1,
  protocolError: 2,
  timeLimitExceeded: 3,
  sizeLimitExceeded: 4,
  compareFalse: 5,
  compareTrue: 6,
  authMethodNotSupported: 7,
  strongerAuthRequired: 8,
  adminLimitExceeded: 11,
  unavailableCriticalExtension: 12,
  confidentialityRequired: 13,
  noSuchAttribute: 16,
  undefinedAttributeType: 17,
  inappropriateMatching: 18,
  noSuchObject: 32,
  invalidDNSyntax: 34,
  inappropriateAuthentication: 48,
  invalidCredentials: 49,
  insufficientAccessRights: 50,
  busy: 51,
  unavailable: 52,
  unwillingToPerform: 53,
  other: 80,
} as const;
export type LdapResultCodeName = keyof typeof LdapResultCode;

export class LdapResultError extends Error {
  constructor(
    readonly code: LdapResultCodeName,
    message: string,
    /** The matchedDN of the LDAPResult, for noSuchObject. */
    readonly matchedDn = '',
  ) {
    super(message);
    this.name = 'LdapResultError';
  }
}
