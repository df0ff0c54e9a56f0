import { randomBytes } from 'node:crypto';

/** PinStatusEnum of CardService (GetPinStatus). */
export const PIN_STATUSES = ['VERIFIED', 'TRANSPORT_PIN', 'EMPTY_PIN', 'BLOCKED', 'VERIFIABLE'] as const;
export type PinStatus = (typeof PIN_STATUSES)[number];

/** A card "in a terminal" of the simulator: the SMC-B of a Mandant or one of its HBAs. */
export interface SimCard {
  readonly mandantId: string;
  /** The HBA's UserId; absent for the SMC-B. */
  readonly userId?: string;
  readonly type: 'SMC-B' | 'HBA';
  /** Random, new on every (re-)insertion; an old one is stale from then on. */
  handle: string;
  insertTime: Date;
  readonly iccsn: string;
  readonly ctId: string;
  readonly slotId: number;
  pin: PinStatus;
}

/**
 * The cards of the configured Mandanten and their handles. A handle stays valid until the card
 * is re-inserted (reinsert), as a real Konnektor's does until the card is pulled.
 */
export class CardSlots {
  private readonly cards: SimCard[] = [];
  private readonly byHandle = new Map<string, SimCard>();

  constructor(mandanten: ReadonlyArray<{ readonly id: string; readonly smcb?: unknown; readonly hba?: Readonly<Record<string, unknown>> }>) {
    let slot = 0;
    for (const m of mandanten) {
      const ctId = `CT-${m.id}`;
      if (m.smcb) this.add({ mandantId: m.id, type: 'SMC-B', ctId, slotId: ++slot });
      for (const userId of Object.keys(m.hba ?? {})) this.add({ mandantId: m.id, userId, type: 'HBA', ctId, slotId: ++slot });
    }
  }

  private add(c: { mandantId: string; userId?: string; type: 'SMC-B' | 'HBA'; ctId: string; slotId: number }): void {
    // ICCSN: 20 digits, 80 (health) 276 (Germany), then the card's own number.
    const iccsn = `80276${String(883110000000000 + this.cards.length + 1).padStart(15, '0')}`;
    const card: SimCard = { ...c, handle: newHandle(), insertTime: new Date(), iccsn, pin: 'VERIFIED' };
    this.cards.push(card);
    this.byHandle.set(card.handle, card);
  }

  /** The Mandant's cards (SMC-B first, then HBAs). */
  of(mandantId: string): SimCard[] {
    return this.cards.filter((c) => c.mandantId === mandantId);
  }

  handle(handle: string): SimCard | undefined {
    return this.byHandle.get(handle);
  }

  /** The Mandant's SMC-B, or the HBA of `userId`. */
  find(mandantId: string, userId?: string): SimCard | undefined {
    return this.cards.find((c) => c.mandantId === mandantId && c.userId === userId);
  }

  /** Pulls and re-inserts a card: a new handle and insert time; the old handle is unknown from now on. */
  reinsert(card: SimCard): void {
    this.byHandle.delete(card.handle);
    card.handle = newHandle();
    card.insertTime = new Date();
    this.byHandle.set(card.handle, card);
  }
}

const newHandle = (): string => randomBytes(12).toString('base64url');
