import type { IntegrationUser, UserSource } from './types.js';
import { burnHashCheck } from './burn.js';

/**
 * The configured sources as one: asked in ascending priority (ties in configuration order).
 * - authenticate: the first source that knows the user answers; when none does, the answer
 *   is false after the time a password check takes. A source that fails throws: falling
 *   through to the next one could accept a password the failing source has since changed.
 * - list: every source's users, a user name (case-insensitive) listed by an earlier source
 *   hiding later ones. With one source nothing is remembered; with several, the names seen so
 *   far are (a few MB for 100,000 users).
 */
export class CombinedSource {
  readonly sources: readonly UserSource[];

  constructor(sources: UserSource[]) {
    this.sources = sources.map((s, i) => ({ s, i })).sort((a, b) => a.s.priority - b.s.priority || a.i - b.i).map((x) => x.s);
  }

  get(name: string): UserSource | undefined {
    return this.sources.find((s) => s.name === name);
  }

  async *list(signal?: AbortSignal): AsyncIterable<IntegrationUser> {
    if (this.sources.length === 1) {
      yield* this.sources[0]!.list(signal);
      return;
    }
    const seen = new Set<string>();
    for (const s of this.sources) {
      for await (const u of s.list(signal)) {
        const k = u.userName.toLowerCase();
        if (seen.has(k)) continue;
        seen.add(k);
        yield u;
      }
    }
  }

  async authenticate(user: string, password: string): Promise<boolean> {
    for (const s of this.sources) {
      const r = await s.authenticate(user, password);
      if (r !== null) return r;
    }
    await burnHashCheck(password);
    return false;
  }

  async close(): Promise<void> {
    await Promise.all(this.sources.map((s) => s.close?.().catch(() => undefined)));
  }
}
