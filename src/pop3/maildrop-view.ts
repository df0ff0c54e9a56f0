import type { Pop3Maildrop, Pop3Message } from './backend.js';

/**
 * A session's view of its maildrop snapshot in the TRANSACTION state: which messages are
 * marked deleted (RFC 1939 DELE/RSET), and what LIST/STAT/UIDL see, which is everything not
 * marked. Message numbers are 1-based as on the wire; indexes are 0-based as in the backend.
 */
export class MaildropView {
  private readonly deleted = new Set<number>();

  constructor(readonly maildrop: Pop3Maildrop) {}

  /** The 0-based index of message `msg`, or why there is none (the text after -ERR). */
  lookup(msg: number): { index: number; message: Pop3Message } | { error: string } {
    const index = msg - 1;
    const message = this.maildrop.messages[index];
    if (!message) return { error: `no such message, only ${this.maildrop.messages.length} in maildrop` };
    if (this.deleted.has(index)) return { error: `message ${msg} already deleted` };
    return { index, message };
  }

  markDeleted(index: number): void {
    this.deleted.add(index);
  }

  unmarkAll(): void {
    this.deleted.clear();
  }

  /** Marked indexes, ascending: what commit() receives at QUIT. */
  deletedIndexes(): number[] {
    return [...this.deleted].sort((a, b) => a - b);
  }

  /** The visible messages with their 1-based numbers. */
  visible(): { msg: number; message: Pop3Message }[] {
    const out: { msg: number; message: Pop3Message }[] = [];
    this.maildrop.messages.forEach((message, i) => {
      if (!this.deleted.has(i)) out.push({ msg: i + 1, message });
    });
    return out;
  }

  totals(): { count: number; size: number } {
    const v = this.visible();
    return { count: v.length, size: v.reduce((s, m) => s + m.message.size, 0) };
  }
}
