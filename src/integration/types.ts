/** One user as the Application Integration protocol lists it (seed 001). */
export interface IntegrationUser {
  userName: string;
  distinguishedName?: string;
  fullName?: string;
  emailAddresses?: string[];
}

/**
 * Where users come from: the platform's accounts, a file, an SQL database, an LDAP directory,
 * another Application Integration server. `authenticate` answers null when the source does
 * not know the user (so the next source may), false for a wrong password.
 */
export interface UserSource {
  readonly name: string;
  readonly priority: number;
  readonly type: string;
  /** Every user, streamed; throws (at any point) when the source cannot be read whole. */
  list(signal?: AbortSignal): AsyncIterable<IntegrationUser>;
  authenticate(user: string, password: string): Promise<boolean | null>;
  close?(): Promise<void>;
}
