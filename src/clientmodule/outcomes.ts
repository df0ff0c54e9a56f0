/**
 * One send or receive result of the client module, as the admin console lists it. Envelope
 * addresses and KIM result codes only: never a Subject, a body or anything decrypted.
 */
export interface ClientModuleOutcome {
  at: string;
  direction: 'send' | 'receive';
  /** The KIM address of the primary system's login. */
  account: string;
  from: string;
  to: string[];
  /** ok: sent / decrypted and verified; partial: sent with recipients dropped; failed. */
  result: 'ok' | 'partial' | 'failed';
  /** X-KIM-* values and codes: DecryptionResult, IntegrityCheckResult, Fehlermeldung, per-recipient send codes. */
  codes: Record<string, string | string[]>;
  /** The SMTP answer or the reason, when it did not fully succeed. */
  error?: string;
}

/**
 * The last `capacity` outcomes in memory, oldest overwritten first (a fixed array and a write
 * index: recording costs no allocation beyond the entry). A restart starts it empty; the log
 * keeps the full history.
 */
export class OutcomeRing {
  private readonly items: Array<ClientModuleOutcome | undefined>;
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError('capacity must be a whole number >= 0');
    this.items = new Array<ClientModuleOutcome | undefined>(capacity);
  }

  record(o: Omit<ClientModuleOutcome, 'at'> & { at?: string }): void {
    if (this.capacity === 0) return;
    this.items[this.next] = { ...o, at: o.at ?? new Date().toISOString(), to: [...o.to] };
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  /** Newest first, at most `limit`; `direction` keeps one kind. */
  list(q: { limit?: number; direction?: 'send' | 'receive' } = {}): ClientModuleOutcome[] {
    const out: ClientModuleOutcome[] = [];
    const limit = q.limit ?? this.capacity;
    for (let k = 1; k <= this.count && out.length < limit; k++) {
      const o = this.items[(this.next - k + this.capacity) % this.capacity]!;
      if (!q.direction || o.direction === q.direction) out.push(o);
    }
    return out;
  }

  get size(): number {
    return this.count;
  }
}
