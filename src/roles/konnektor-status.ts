import type { Config } from '../config/index.js';
import { createKonnektor, konnektorStatus, type KonnektorContext, type KonnektorStatus } from '../crypto/index.js';

/**
 * The call contexts a status report reads: those `clientModule.accounts` names with concrete
 * client-system and workplace ids, else (the software Konnektor) every Mandant of
 * `konnektor.mandanten` with its first client system and workplace, and its HBAs. A real
 * Konnektor checks the context, so a report can only ask as a configured client would.
 */
export function statusContexts(config: Config): KonnektorContext[] {
  const out = new Map<string, KonnektorContext>();
  const add = (c: KonnektorContext) => out.set(`${c.mandantId}\u0000${c.clientSystemId}\u0000${c.workplaceId}\u0000${c.userId ?? ''}`, c);
  const mandanten = new Map(config.konnektor.mandanten.map((m) => [m.id, m]));
  for (const a of config.clientModule.accounts) {
    for (const c of a.contexts) {
      const m = mandanten.get(c.mandant);
      const cs = (c.clientSystems ?? m?.clientSystems ?? []).find((x) => x !== '*');
      const wp = (c.workplaces ?? m?.workplaces ?? []).find((x) => x !== '*') ?? (m?.workplaces.includes('*') ? 'status' : undefined);
      if (!cs || !wp) continue;
      add({ mandantId: c.mandant, clientSystemId: cs, workplaceId: wp });
      for (const u of c.users ?? []) if (u !== '*') add({ mandantId: c.mandant, clientSystemId: cs, workplaceId: wp, userId: u });
    }
  }
  for (const m of config.konnektor.mandanten) {
    const cs = m.clientSystems[0]!;
    const wp = m.workplaces.find((x) => x !== '*') ?? 'status';
    if (![...out.values()].some((c) => c.mandantId === m.id)) add({ mandantId: m.id, clientSystemId: cs, workplaceId: wp });
    for (const userId of Object.keys(m.hba)) add({ mandantId: m.id, clientSystemId: cs, workplaceId: wp, userId });
  }
  return [...out.values()];
}

/** One status report from a Konnektor built from the configuration, closed afterwards. */
export async function configuredKonnektorStatus(config: Config, contexts: readonly KonnektorContext[] = statusContexts(config), warnDays?: number): Promise<KonnektorStatus> {
  const konnektor = createKonnektor(config.konnektor, config.dataDir);
  try {
    return await konnektorStatus(konnektor, contexts, { warnDays });
  } finally {
    await konnektor.close?.().catch(() => undefined);
  }
}
