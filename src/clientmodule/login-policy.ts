import { isIP } from 'node:net';
import type { kim } from '../wire/index.js';
import type { ClientModuleAccount, ClientModuleProvider } from '../config/index.js';

/**
 * Which mail services a user name may point at (clientModule.providers) and who may log in
 * with which call context (clientModule.accounts). Decided on the user name alone, before any
 * connection, name lookup or Konnektor call: the password is checked only by the mail service
 * and proves only the address, so without this a practice that knows its own password could
 * name another practice's Mandant and sign with its card, and anyone who reaches the client
 * module could make it dial any host and port and learn from the answer what listens there.
 * Pure: no I/O, so a refusal takes the same time whatever the target.
 */

/** Why a login was refused: for the log line. The primary system gets one text per kind of refusal. */
export type LoginRefusal = 'provider not configured' | 'unknown account' | 'context not allowed';

export type LoginVerdict = { ok: true } | { ok: false; why: LoginRefusal; text: string };

/** The same words whatever the target: closed port, open port and unresolvable name are not told apart. */
const NOT_A_PROVIDER = 'the mail service in the user name is not one this client module is configured for';

export class LoginPolicy {
  private readonly accounts: ReadonlyMap<string, ClientModuleAccount>;
  private readonly providers: readonly ClientModuleProvider[];

  constructor(accounts: readonly ClientModuleAccount[], providers: readonly ClientModuleProvider[]) {
    this.accounts = new Map(accounts.map((a) => [a.address.toLowerCase(), a]));
    this.providers = providers.map((p) => ({ ports: p.ports, ...(p.host !== undefined ? { host: canonicalHost(p.host) } : { domain: p.domain?.toLowerCase() }) }));
  }

  /** Nothing configured: every login is refused (said at start and by `postamt config check`). */
  get refusesEverything(): boolean {
    return this.accounts.size === 0 || this.providers.length === 0;
  }

  check(user: kim.KimUserName): LoginVerdict {
    // The provider first: its answer says nothing about which accounts exist.
    if (!this.providerAllowed(user.host, user.port)) return { ok: false, why: 'provider not configured', text: NOT_A_PROVIDER };
    const account = this.accounts.get(user.address.toLowerCase());
    const c = user.context;
    const allowed = account?.contexts.some((k) => k.mandant === c.mandantId && admits(k.clientSystems, c.clientSystemId) && admits(k.workplaces, c.workplaceId) && (c.userId === undefined || admits(k.users, c.userId)));
    if (allowed) return { ok: true };
    // One text for both: a guesser learns neither which accounts exist nor which contexts they have.
    const context = `Mandant ${c.mandantId}, client system ${c.clientSystemId}, workplace ${c.workplaceId}${c.userId !== undefined ? `, user ${c.userId}` : ''}`;
    return { ok: false, why: account ? 'context not allowed' : 'unknown account', text: `this client module is not configured for ${user.address} with ${context}` };
  }

  /** A host entry matches the name or address exactly; a domain entry the domain and names under it, never an IP address. */
  private providerAllowed(host: string, port: number): boolean {
    const h = canonicalHost(host);
    const ip = isIP(h) !== 0;
    return this.providers.some((p) => p.ports.includes(port) && (p.host !== undefined ? p.host === h : !ip && p.domain !== undefined && (h === p.domain || h.endsWith(`.${p.domain}`))));
  }
}

/** An omitted list leaves the choice to the Konnektor's configuration of the Mandant. */
function admits(list: readonly string[] | undefined, value: string): boolean {
  return list === undefined || list.includes('*') || list.includes(value);
}

/** Lower case, IPv6 without brackets and in its shortest form, so `[0:0::1]` is `::1`. */
function canonicalHost(host: string): string {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return isIP(h) === 6 ? new URL(`http://[${h}]/`).hostname.slice(1, -1) : h;
}
