import type { Kysely } from 'kysely';
import type { Database } from '../store/index.js';

/**
 * An account's KIM registration as the provider's operators see it:
 * - `created`: the provider made the account, the practice's client module has not registered it yet;
 * - `registered`: registerAccount done (or a deregistration revoked);
 * - `deregistration-pending`: deregisterAccount done, the account is deleted after `deregDate`;
 * - `deleted`: past `deregDate` — gone for KIM already (the Account Manager answers 404), its row
 *   waits for the retention job's next run to delete it.
 */
export type KimRegistrationState = 'created' | 'registered' | 'deregistration-pending' | 'deleted';

export interface KimRegistration {
  state: KimRegistrationState;
  kimVersion: string | null;
  referenceID: string | null;
  /** ISO 8601: when a pending deregistration takes effect; null without one. */
  deregDate: string | null;
  /** ISO 8601: the last change through the Account Manager; null: none yet. */
  changedAt: string | null;
}

interface RegistrationRow {
  id: number;
  kim_reg_stat: 'registered' | 'deregistered' | null;
  kim_version: string | null;
  kim_reference_id: string | null;
  kim_dereg_date: number | null;
  kim_changed_at: number | null;
}

export function registrationOf(r: Omit<RegistrationRow, 'id'>, nowSeconds: number): KimRegistration {
  const dereg = r.kim_dereg_date === null ? null : Number(r.kim_dereg_date);
  let state: KimRegistrationState = 'created';
  if (r.kim_reg_stat === 'registered') state = 'registered';
  else if (r.kim_reg_stat === 'deregistered') state = dereg !== null && dereg <= nowSeconds ? 'deleted' : 'deregistration-pending';
  return {
    state,
    kimVersion: r.kim_version,
    referenceID: r.kim_reference_id,
    deregDate: dereg === null ? null : new Date(dereg * 1000).toISOString(),
    changedAt: r.kim_changed_at === null ? null : new Date(Number(r.kim_changed_at)).toISOString(),
  };
}

/** Reads the Account Manager's columns of accounts for the operators' views; writes nothing. */
export class KimRegistrations {
  constructor(
    private readonly db: Kysely<Database>,
    /** Unix seconds; tests give their own clock. */
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  /** The registrations of the accounts with these ids, by id (an id without a row is left out). */
  async byId(ids: readonly number[]): Promise<Map<number, KimRegistration>> {
    const out = new Map<number, KimRegistration>();
    if (ids.length === 0) return out;
    const now = this.now();
    // In slices: SQLite takes at most 32766 bound parameters, and a list may hold every account.
    for (let i = 0; i < ids.length; i += 1000) {
      const rows = await this.db
        .selectFrom('accounts')
        .select(['id', 'kim_reg_stat', 'kim_version', 'kim_reference_id', 'kim_dereg_date', 'kim_changed_at'])
        .where('id', 'in', ids.slice(i, i + 1000))
        .execute();
      for (const r of rows) out.set(r.id, registrationOf(r, now));
    }
    return out;
  }
}
