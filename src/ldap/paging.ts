import { randomBytes } from 'node:crypto';

/** The server side of one paged search (RFC 2696) between two pages. */
export interface PagedState {
  /** What the search asked for; a cookie is only honoured for the same search. */
  fingerprint: string;
  /** The backend's resumeKey of the last entry sent. */
  after: string;
  /** Entries sent so far over all pages (the size limit covers the whole search). */
  returned: number;
}

/**
 * The open paged searches of one connection. Cookies are random handles into this table, never
 * state the client could forge: a cookie from another connection, for another search or made
 * up is simply unknown. At most `max` are kept; the oldest is forgotten first.
 */
export class PagedSearches {
  private readonly open = new Map<string, PagedState>();

  constructor(private readonly max: number) {}

  /** Stores the state and returns a fresh cookie for it. */
  save(state: PagedState): Buffer {
    const cookie = randomBytes(12);
    this.open.set(cookie.toString('base64'), state);
    if (this.open.size > this.max) this.open.delete(this.open.keys().next().value!);
    return cookie;
  }

  /** Takes the state for a cookie out of the table (each cookie is good for one page). */
  take(cookie: Buffer): PagedState | undefined {
    const key = cookie.toString('base64');
    const state = this.open.get(key);
    this.open.delete(key);
    return state;
  }

  clear(): void {
    this.open.clear();
  }
}
