import type { Config } from '../config/index.js';

/**
 * The client module's call contexts as the console shows them: each Mandant with its client
 * systems, workplaces and HBA user ids, each account with the contexts it may use. Only ids —
 * never the card files, their passwords or the Konnektor's credentials.
 */
export function clientModuleConfigView(config: Config): object {
  return {
    konnektor: { type: config.konnektor.type, ...(config.konnektor.type === 'soap' && config.konnektor.soap ? { url: (config.konnektor.soap as { url?: string }).url ?? null } : {}) },
    mandanten: config.konnektor.mandanten.map((m) => ({ id: m.id, clientSystems: m.clientSystems, workplaces: m.workplaces, smcb: m.smcb !== undefined, hbaUsers: Object.keys(m.hba) })),
    accounts: config.clientModule.accounts.map((a) => ({
      address: a.address,
      contexts: a.contexts.map((c) => ({ mandant: c.mandant, clientSystems: c.clientSystems ?? null, workplaces: c.workplaces ?? null, users: c.users ?? null })),
    })),
    recentOutcomes: config.clientModule.recentOutcomes,
  };
}
