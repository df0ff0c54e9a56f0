import { LdapResultError, type LdapAttribute, type LdapBackend, type LdapEntry, type LdapResultCodeName, type LdapSearch } from '../ldap/backend.js';
import { searchResultEntryOp } from '../wire/ldap/index.js';
import { encodedLength, writeDerInto, type DerNode } from '../wire/ber/index.js';
import type { Directory } from './directory.js';
import type { DirEntry } from './entry.js';
import { DirectoryError, type DirectoryErrorKind } from './errors.js';
import { compileSelection, type Selector } from './select.js';
import { baseView, entryView } from './views.js';

/** What bind needs of the service's accounts (structurally the service's Accounts). */
export interface BindAccounts {
  authenticate(address: string, password: string): Promise<{ address: string } | null>;
}

const SELECTOR_CACHE = 256;
/** Encoded answers kept per entry (one per attribute selection seen, the oldest dropped). */
const ANSWERS_PER_ENTRY = 4;

/**
 * An LdapEntry over a kept answer (the SearchResultEntry protocolOp as bytes); the attribute
 * list is only built if someone reads it (the LDAP edge writes the bytes).
 */
function entryOf(e: DirEntry, dn: string, encoded: Buffer, selector: Selector, typesOnly: boolean, resumeKey: string): LdapEntry {
  return {
    dn,
    get attributes(): LdapAttribute[] {
      return selector.select(entryView(e, dn), typesOnly);
    },
    encoded,
    resumeKey,
  };
}

/** The LDAP result code of each directory refusal (RFC 4511 4.1.9). */
const RESULT_CODE: Readonly<Record<DirectoryErrorKind, LdapResultCodeName>> = {
  invalidDn: 'invalidDNSyntax',
  noSuchEntry: 'noSuchObject',
  invalidPosition: 'unwillingToPerform',
};

/** A directory refusal as the LDAP result the edge answers with; anything else unchanged. */
function asLdapResult(err: unknown): unknown {
  return err instanceof DirectoryError ? new LdapResultError(RESULT_CODE[err.kind], err.message, err.closestDn) : err;
}

/** In a buffer of its own size: a kept answer is one object for the garbage collector, not a tree of nodes and small buffers. */
function encodeOwn(node: DerNode): Buffer {
  const out = Buffer.allocUnsafe(encodedLength(node));
  writeDerInto(out, 0, node);
  return out;
}

/**
 * The directory as the LDAP edge sees it; the directory's refusals (DirectoryError) become
 * LDAP result codes here and nowhere else.
 *
 * Bind: anonymous read is always allowed (the edge decides whether to require a bind). A
 * simple bind succeeds as a service account: DN `mail=<address>,<baseDn>` or the bare
 * address, checked with the accounts' password verification; anything else is refused.
 */
export class DirectoryLdapBackend implements LdapBackend {
  private readonly selectors = new Map<string, Selector>();

  constructor(
    readonly directory: Directory,
    readonly accounts: BindAccounts,
  ) {}

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
      return this.directory.valueBelowBase(t, 'mail');
    } catch {
      return undefined; // not a DN: no such account
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
   * encoding the next time, only one copy of the bytes into the response.
   */
  private answer(e: DirEntry, dn: string, selector: Selector, typesOnly: boolean): Buffer {
    // [key, bytes, key, bytes, …], oldest first: a Map per entry would weigh more than the few answers.
    const memo = ((e.answers ??= {}).encoded ??= []) as Array<string | Buffer>;
    const key = typesOnly ? `t\0${selector.key}` : selector.key;
    for (let k = 0; k < memo.length; k += 2) if (memo[k] === key) return memo[k + 1] as Buffer;
    const encoded = encodeOwn(searchResultEntryOp(dn, selector.select(entryView(e, dn), typesOnly)));
    if (memo.length >= 2 * ANSWERS_PER_ENTRY) memo.splice(0, 2);
    memo.push(key, encoded);
    return encoded;
  }

  /** search() at once from memory (DirectorySearch.searchNow), or undefined when it needs the store. */
  searchNow(req: Omit<LdapSearch, 'signal'>): LdapEntry[] | undefined {
    const d = this.directory;
    const hits = d.searchNow(req);
    if (hits === undefined) return undefined;
    const selector = this.selector(req.attributes);
    const out: LdapEntry[] = new Array(hits.length);
    for (let k = 0; k < hits.length; k++) {
      const hit = hits[k]!;
      if (hit.kind === 'base') {
        out[k] = { dn: hit.dn, attributes: selector.select(baseView(d.baseRdn.type, d.baseRdn.value, hit.dn), req.typesOnly), resumeKey: hit.resumeKey };
        continue;
      }
      out[k] = entryOf(hit.entry, hit.dn, this.answer(hit.entry, hit.dn, selector, req.typesOnly), selector, req.typesOnly, hit.resumeKey);
    }
    return out;
  }

  async *search(req: LdapSearch): AsyncIterable<LdapEntry> {
    const selector = this.selector(req.attributes);
    const d = this.directory;
    const hits = d.search({ baseDn: req.baseDn, scope: req.scope, filter: req.filter, limit: req.limit, signal: req.signal, ...(req.after !== undefined ? { after: req.after } : {}) });
    try {
      for await (const hit of hits) {
        if (hit.kind === 'base') {
          yield { dn: hit.dn, attributes: selector.select(baseView(d.baseRdn.type, d.baseRdn.value, hit.dn), req.typesOnly), resumeKey: hit.resumeKey };
          continue;
        }
        yield entryOf(hit.entry, hit.dn, this.answer(hit.entry, hit.dn, selector, req.typesOnly), selector, req.typesOnly, hit.resumeKey);
      }
    } catch (err) {
      throw asLdapResult(err);
    }
  }
}
