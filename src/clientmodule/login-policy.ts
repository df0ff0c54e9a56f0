import type { kim } from '../wire/index.js';
import type { ClientModuleAccount } from '../config/index.js';

/**
 * Who may log in at the client module with which call context (clientModule.accounts).
 * Decided on the user name alone, before any connection or Konnektor call: the password is
 * checked only by the mail service and proves only the address, so without this a practice
 * that knows its own password could name another practice's Mandant and sign with its card.
 * Pure: no I/O.
 */

/** Why a login was refused: for the log line. The primary system gets one text per kind of refusal. */
export type LoginRefusal = 'unknown account' | 'context not allowed';

export type LoginVerdict = { ok: true } | { ok: false; why: LoginRefusal; text: string };

export class LoginPolicy {
  private readonly accounts: ReadonlyMap<string, ClientModuleAccount>;

  constructor(accounts: readonly ClientModuleAccount[]) {
    this.accounts = new Map(accounts.map((a) => [a.address.toLowerCase(), a]));
  }

  /** Nothing configured: every login is refused (said at start and by `postamt config check`). */
  get refusesEverything(): boolean {
    return this.accounts.size === 0;
  }

  check(user: kim.KimUserName): LoginVerdict {
    const account = this.accounts.get(user.address.toLowerCase());
    const c = user.context;
    const allowed = account?.contexts.some((k) => k.mandant === c.mandantId && admits(k.clientSystems, c.clientSystemId) && admits(k.workplaces, c.workplaceId) && (c.userId === undefined || admits(k.users, c.userId)));
    if (allowed) return { ok: true };
    // One text for both: a guesser learns neither which accounts exist nor which contexts they have.
    const context = `Mandant ${c.mandantId}, client system ${c.clientSystemId}, workplace ${c.workplaceId}${c.userId !== undefined ? `, user ${c.userId}` : ''}`;
    return { ok: false, why: account ? 'context not allowed' : 'unknown account', text: `this client module is not configured for ${user.address} with ${context}` };
  }
}

/** An omitted list leaves the choice to the Konnektor's configuration of the Mandant. */
function admits(list: readonly string[] | undefined, value: string): boolean {
  return list === undefined || list.includes('*') || list.includes(value);
}

