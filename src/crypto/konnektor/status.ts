import { X509Certificate } from 'node:crypto';
import { KonnektorError } from './errors.js';
import { konnektorFor } from './routing.js';
import type { CertRef, Crypt, Konnektor, KonnektorContext } from './types.js';

/** One certificate of a card as an administrator needs to see it. */
export interface CertificateStatus {
  readonly ref: CertRef;
  readonly crypt: Crypt;
  readonly subject: string;
  readonly notAfter: string;
  /** Whole days until it expires (negative: expired). */
  readonly daysLeft: number;
  /** Within `warnDays` of its end, or past it. */
  readonly expiresSoon: boolean;
}

/** What a Konnektor says about the card one call context reaches. */
export interface CardStatus {
  readonly context: KonnektorContext;
  /** The SMC-B of the Mandant, or the HBA of `context.userId`. */
  readonly card: 'SMC-B' | 'HBA';
  /** Only a SOAP Konnektor has card handles, ICCSNs and PIN states. */
  readonly handle?: string;
  readonly iccsn?: string;
  readonly pinStatus?: string;
  readonly certificates: readonly CertificateStatus[];
  /** Why the card could not be read (context refused, card missing, Konnektor unreachable). */
  readonly error?: { readonly code: string; readonly message: string };
}

export interface KonnektorStatus {
  readonly productInfo: string;
  /** A_17464. */
  readonly eccCapable: boolean;
  /** Service name → version, as the Konnektor announces them (connector.sds, or the software Konnektor's configuration). */
  readonly serviceVersions: Readonly<Record<string, string>>;
  readonly cards: readonly CardStatus[];
}

/** What a Konnektor can add beyond the certificates: card handles and PIN states (a SOAP Konnektor has them). */
export interface CardInfoSource {
  cardInfo?(ctx: KonnektorContext): Promise<{ handle?: string; iccsn?: string; pinStatus?: string }>;
  readonly serviceVersionMap?: Readonly<Record<string, string>>;
}

const REFS: ReadonlyArray<[CertRef, Crypt]> = [
  ['C.ENC', 'RSA'],
  ['C.ENC', 'ECC'],
  ['C.SIG', 'RSA'],
  ['C.SIG', 'ECC'],
];

const DAY = 86_400_000;

/**
 * The state of every card the contexts reach: its certificates (RSA and ECC, ENC and SIG) with
 * their expiry, and where the Konnektor has them the card handle and PIN status. For
 * `postamt konnektor status` and GET /api/konnektor/status. One context's failure is reported in
 * its entry; the others are still read.
 */
export async function konnektorStatus(konnektor: Konnektor & CardInfoSource, contexts: readonly KonnektorContext[], opts: { warnDays?: number; now?: Date } = {}): Promise<KonnektorStatus> {
  // A SOAP Konnektor reads its service directory first; a failure there is the whole report's.
  await konnektor.ready?.();
  const now = (opts.now ?? new Date()).getTime();
  const warnDays = opts.warnDays ?? 30;
  const cards: CardStatus[] = [];
  for (const context of contexts) {
    const card = context.userId ? 'HBA' : 'SMC-B';
    const certificates: CertificateStatus[] = [];
    try {
      const info = konnektor.cardInfo ? await konnektor.cardInfo(context) : {};
      for (const [ref, crypt] of REFS) {
        if (crypt === 'ECC' && !konnektorFor(konnektor, context).eccCapable) continue;
        let der: Uint8Array;
        try {
          der = await konnektor.readCardCertificate(context, ref, crypt);
        } catch (err) {
          // A card without this kind of key (an RSA-only or ECC-only card) is no failure.
          if (err instanceof KonnektorError && err.code === 'key-not-available') continue;
          throw err;
        }
        const x = new X509Certificate(der);
        const end = new Date(x.validTo).getTime();
        const daysLeft = Math.floor((end - now) / DAY);
        certificates.push({ ref, crypt, subject: x.subject.replace(/\n/g, ', '), notAfter: new Date(end).toISOString(), daysLeft, expiresSoon: daysLeft < warnDays });
      }
      cards.push({ context, card, ...info, certificates });
    } catch (err) {
      const code = err instanceof KonnektorError ? err.code : 'error';
      cards.push({ context, card, certificates, error: { code, message: err instanceof Error ? err.message : String(err) } });
    }
  }
  return { productInfo: konnektor.productInfo, eccCapable: konnektor.eccCapable, serviceVersions: konnektor.serviceVersionMap ?? {}, cards };
}

/** A plain-text report of a status, one card per block (the CLI's output). */
export function formatKonnektorStatus(s: KonnektorStatus): string {
  const lines = [`Konnektor ${s.productInfo}`, `  ECC capable (A_17464): ${s.eccCapable ? 'yes' : 'no'}`];
  const services = Object.entries(s.serviceVersions);
  if (services.length) lines.push(`  services: ${services.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  for (const c of s.cards) {
    const ctx = c.context;
    const who = `${ctx.mandantId}/${ctx.clientSystemId}/${ctx.workplaceId}${ctx.userId ? `/${ctx.userId}` : ''}`;
    lines.push('', `${c.card} for ${who}${c.handle ? `  handle ${c.handle}` : ''}${c.iccsn ? `  ICCSN ${c.iccsn}` : ''}${c.pinStatus ? `  PIN ${c.pinStatus}` : ''}`);
    if (c.error) lines.push(`  ERROR ${c.error.code}: ${c.error.message}`);
    for (const cert of c.certificates) {
      const when = cert.daysLeft < 0 ? `EXPIRED ${-cert.daysLeft} days ago` : `${cert.daysLeft} days left${cert.expiresSoon ? ' — renew soon' : ''}`;
      lines.push(`  ${cert.ref} ${cert.crypt.padEnd(3)} until ${cert.notAfter.slice(0, 10)} (${when})  ${cert.subject}`);
    }
  }
  return lines.join('\n') + '\n';
}
