import { PostamtError } from '../core/index.js';

/**
 * What a search or a lookup refuses, in the directory's terms:
 * - `invalidDn`: the DN given is not a DN (RFC 4514);
 * - `noSuchEntry`: the DN names nothing (outside the naming context, or no entry there);
 * - `invalidPosition`: the paging position is not one the directory handed out.
 */
export type DirectoryErrorKind = 'invalidDn' | 'noSuchEntry' | 'invalidPosition';

/** The PostamtError code of each kind: the admin API and the CLI answer by it (400/404, exit 2/1). */
const CODE: Readonly<Record<DirectoryErrorKind, string>> = { invalidDn: 'usage', noSuchEntry: 'not-found', invalidPosition: 'usage' };

/**
 * A directory refusal. The LDAP edge (ldap-backend.ts) turns each kind into a result code; the
 * directory itself knows nothing of LDAP results.
 */
export class DirectoryError extends PostamtError {
  constructor(
    readonly kind: DirectoryErrorKind,
    message: string,
    /** For noSuchEntry: the DN of the deepest entry that exists above the missing one ('' when none). */
    readonly closestDn = '',
  ) {
    super(CODE[kind], message);
    this.name = 'DirectoryError';
  }
}
