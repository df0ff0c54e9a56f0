import type { LdapAttribute, LdapBackend, LdapEntry, LdapSearch } from '../ldap/backend.js';
import { parseDn, normaliseDn, searchResultEntryOp } from '../wire/ldap/index.js';
import type { DerNode } from '../wire/ber/index.js';
import type { Directory } from './directory.js';
import type { DirEntry } from './entry.js';
import { compileSelection, type Selector } from './select.js';
import { baseView, entryView } from './views.js';

/** What bind needs of the service's accounts (structurally the service's Accounts). */
export interface BindAccounts {
  authenticate(address: string, password: string): Promise<{ address: string } | null>;
}

const SELECTOR_CACHE = 256;
/** Encoded answers kept per entry (one per attribute selection seen, the oldest dropped). */
const ANSWERS_PER_ENTRY = 4;

interface Answer {
  attributes: LdapAttribute[];
  encoded: DerNode;
}

/**
 * The directory as the LDAP edge sees it.
 *
 * Bind: anonymous read is always allowed (the edge decides whether to require a bind). A
 * simple bind succeeds as a service account: DN `mail=<address>,<baseDn>` or the bare
 * address, checked with the accounts' password verification; anything else is refused.
 */
export class DirectoryLdapBackend implements LdapBackend {
  private readonly selectors = new Map<string, Selector>();
  private readonly baseNorm: string;

  constructor(
    readonly directory: Directory,
    readonly accounts: BindAccounts,
  ) {
    this.baseNorm = normaliseDn(parseDn(directory.baseDn));
  }

  namingContexts(): string[] {
    return [this.directory.baseDn];
  }

  async bind(dn: string, password: string): Promise<string | null> {
    if (!password) return null;
    const address = this.addressOf(dn);
    if (!address) return null;
    const account = await this.accounts.authenticate(address, password);
    return account ? `mail=${account.address},${this.directory.baseDn}` : null;
  }

  private addressOf(dn: string): string | undefined {
    const t = dn.trim();
    if (!t.includes('=')) return t.includes('@') ? t : undefined;
    try {
      const parsed = parseDn(t);
      if (parsed.length < 2) return undefined;
      const rdn = parsed[0]!;
      if (rdn.length !== 1 || rdn[0]!.type.toLowerCase() !== 'mail') return undefined;
      return normaliseDn(parsed.slice(1)) === this.baseNorm ? rdn[0]!.value : undefined;
    } catch {
      return undefined;
    }
  }

  private selector(attributes: string[]): Selector {
    const key = attributes.join('\0');
    let s = this.selectors.get(key);
    if (!s) {
      s = compileSelection(attributes, key);
      if (this.selectors.size >= SELECTOR_CACHE) this.selectors.delete(this.selectors.keys().next().value!);
      this.selectors.set(key, s);
    }
    return s;
  }

  /**
   * A stored entry's answer for a selection, built once: entries are immutable (a change makes
   * a new entry object), so the same search for the same recipient costs no selection and no
   * encoding the next time. The DER tree references the entry's values; nothing is copied.
   */
  private answer(e: DirEntry, dn: string, selector: Selector, typesOnly: boolean): Answer {
    const memo = ((e.answers ??= {}).encoded ??= new Map()) as Map<unknown, Answer>;
    const key = typesOnly ? `t\0${selector.key}` : selector.key;
    let a = memo.get(key);
    if (!a) {
      const attributes = selector.select(entryView(e, dn), typesOnly);
      a = { attributes, encoded: searchResultEntryOp(dn, attributes) };
      if (memo.size >= ANSWERS_PER_ENTRY) memo.delete(memo.keys().next().value);
      memo.set(key, a);
    }
    return a;
  }

  async *search(req: LdapSearch): AsyncIterable<LdapEntry> {
    const selector = this.selector(req.attributes);
    const d = this.directory;
    const hits = d.search({ baseDn: req.baseDn, scope: req.scope, filter: req.filter, limit: req.limit, signal: req.signal, ...(req.after !== undefined ? { after: req.after } : {}) });
    for await (const hit of hits) {
      if (hit.kind === 'base') {
        yield { dn: hit.dn, attributes: selector.select(baseView(d.baseRdn.type, d.baseRdn.value, hit.dn), req.typesOnly), resumeKey: hit.resumeKey };
        continue;
      }
      const a = this.answer(hit.entry, hit.dn, selector, req.typesOnly);
      yield { dn: hit.dn, attributes: a.attributes, encoded: a.encoded, resumeKey: hit.resumeKey };
    }
  }
}
