import type { Pop3Maildrop, Pop3Message } from './backend.js';

/**
 * A session's view of its maildrop snapshot in the TRANSACTION state: which messages are
 * marked deleted (RFC 1939 DELE/RSET), and what LIST/STAT/UIDL see, which is everything not
 * marked. Message numbers are 1-based as on the wire; indexes are 0-based as in the backend.
 * The totals are kept as marks change, so STAT and the login answer cost nothing however
 * large the maildrop.
 */
export class MaildropView {
  private readonly deleted = new Set<number>();
  private readonly all: { count: number; size: number };
  private marked = { count: 0, size: 0 };

  constructor(readonly maildrop: Pop3Maildrop) {
    let size = 0;
    for (const m of maildrop.messages) size += m.size;
    this.all = { count: maildrop.messages.length, size };
  }

  /** The 0-based index of message `msg`, or why there is none (the text after -ERR). */
  lookup(msg: number): { index: number; message: Pop3Message } | { error: string } {
    const index = msg - 1;
    const message = this.maildrop.messages[index];
    if (!message) return { error: `no such message, only ${this.maildrop.messages.length} in maildrop` };
    if (this.deleted.has(index)) return { error: `message ${msg} already deleted` };
    return { index, message };
  }

  markDeleted(index: number): void {
    const m = this.maildrop.messages[index];
    if (!m || this.deleted.has(index)) return;
    this.deleted.add(index);
    this.marked = { count: this.marked.count + 1, size: this.marked.size + m.size };
  }

  unmarkAll(): void {
    this.deleted.clear();
    this.marked = { count: 0, size: 0 };
  }

  /** Marked indexes, ascending: what commit() receives at QUIT. */
  deletedIndexes(): number[] {
    return [...this.deleted].sort((a, b) => a - b);
  }

  /** Calls `fn` for each visible message with its 1-based number, in order. */
  forEachVisible(fn: (msg: number, message: Pop3Message) => void): void {
    const messages = this.maildrop.messages;
    const any = this.deleted.size > 0;
    for (let i = 0; i < messages.length; i++) if (!any || !this.deleted.has(i)) fn(i + 1, messages[i]!);
  }

  totals(): { count: number; size: number } {
    return { count: this.all.count - this.marked.count, size: this.all.size - this.marked.size };
  }
}
