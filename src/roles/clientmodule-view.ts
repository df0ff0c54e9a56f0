import type { Config } from '../config/index.js';

interface MandantView {
  id: string;
  clientSystems: string[];
  workplaces: string[];
  smcb: boolean;
  hbaUsers: string[];
}

/**
 * The Mandanten a Konnektor over SOAP serves are its own configuration, not ours: what the client
 * module knows of them is what its accounts' call contexts name. Those are listed (client systems
 * and workplaces united; `*` where a context leaves them open), so the console shows the practices
 * the client module calls the Konnektor for instead of an empty table.
 */
function mandantenFromAccounts(config: Config): MandantView[] {
  const byId = new Map<string, { cs: Set<string>; wp: Set<string> }>();
  for (const a of config.clientModule.accounts) {
    for (const c of a.contexts) {
      const m = byId.get(c.mandant) ?? { cs: new Set<string>(), wp: new Set<string>() };
      byId.set(c.mandant, m);
      for (const x of c.clientSystems ?? ['*']) m.cs.add(x);
      for (const x of c.workplaces ?? ['*']) m.wp.add(x);
    }
  }
  return [...byId].map(([id, m]) => ({ id, clientSystems: [...m.cs], workplaces: [...m.wp], smcb: false, hbaUsers: [] }));
}

/**
 * The client module's call contexts as the console shows them: each Mandant with its client
 * systems, workplaces and HBA user ids, each account with the contexts it may use. Only ids —
 * never the card files, their passwords or the Konnektor's credentials.
 */
export function clientModuleConfigView(config: Config): object {
  const soap = config.konnektor.type === 'soap';
  return {
    konnektor: { type: config.konnektor.type, ...(soap && config.konnektor.soap ? { url: (config.konnektor.soap as { url?: string }).url ?? null } : {}) },
    mandanten: soap
      ? mandantenFromAccounts(config)
      : config.konnektor.mandanten.map((m): MandantView => ({ id: m.id, clientSystems: m.clientSystems, workplaces: m.workplaces, smcb: m.smcb !== undefined, hbaUsers: Object.keys(m.hba) })),
    /** Where the list of Mandanten comes from: the software Konnektor's configuration, or (SOAP) the accounts' contexts. */
    mandantenFrom: soap ? 'accounts' : 'konnektor',
    accounts: config.clientModule.accounts.map((a) => ({
      address: a.address,
      contexts: a.contexts.map((c) => ({ mandant: c.mandant, clientSystems: c.clientSystems ?? null, workplaces: c.workplaces ?? null, users: c.users ?? null })),
    })),
    recentOutcomes: config.clientModule.recentOutcomes,
  };
}
