import { addressesIn } from './address.js';

/**
 * Address header fields (RFC 5322 3.4: To, Cc, Bcc …) as a list of items, each kept as the
 * bytes the author wrote, so that removing one address leaves every other one — display name,
 * encoded words, quoting, comments — exactly as it was. The list is split at top-level commas
 * (outside quoted strings, comments, angle brackets) and groups (`name: a, b;`) are seen;
 * nodemailer's addressparser (address.ts) then reads the address out of each item.
 *
 * The splitting is ours on purpose: addressparser returns names and addresses, decoded and
 * re-spaced, but not where in the text each one stood, so a field rebuilt from its answer would
 * change the items that stay (quoting, comments, encoded words, spacing). The client module's
 * send plan must remove recipients and leave the rest byte for byte (the signed copy and the
 * outer header have to agree), so the walk below only finds the item boundaries.
 */
export interface MailboxItem {
  readonly kind: 'mailbox';
  /** The item as written (latin1 text of its bytes), surrounding white space trimmed. */
  readonly raw: string;
  /** The addr-spec, lower-cased; '' when the item holds none (a stray word). */
  readonly address: string;
}

export interface GroupItem {
  readonly kind: 'group';
  /** The display name before the colon, as written. */
  readonly name: string;
  readonly members: readonly MailboxItem[];
}

export type AddressItem = MailboxItem | GroupItem;

/** Splits an address field's value (unfolded or not) into its items. */
export function parseAddressList(value: string): AddressItem[] {
  const items: AddressItem[] = [];
  let group = null as { name: string; members: MailboxItem[] } | null;
  let start = 0;
  let angle = false;
  const mailbox = (end: number): void => {
    const raw = value.slice(start, end).trim();
    start = end + 1;
    if (!raw) return;
    const item: MailboxItem = { kind: 'mailbox', raw, address: addressOf(raw) };
    if (group) group.members.push(item);
    else items.push(item);
  };
  walkOutsideQuotes(value, (c, i) => {
    if (c === '<') angle = true;
    else if (c === '>') angle = false;
    else if (angle) return;
    else if (c === ',') mailbox(i);
    else if (c === ':' && !group) {
      group = { name: value.slice(start, i).trim(), members: [] };
      start = i + 1;
    } else if (c === ';' && group) {
      mailbox(i);
      items.push({ kind: 'group', name: group.name, members: group.members });
      group = null;
    }
  });
  mailbox(value.length);
  // An unterminated group still counts as one (its members were read).
  if (group) items.push({ kind: 'group', name: group.name, members: group.members });
  return items;
}

function addressOf(raw: string): string {
  return addressesIn(raw)[0] ?? '';
}

/** Every address the items name, in order, lower-cased. */
export function addressesOf(items: readonly AddressItem[]): string[] {
  return items.flatMap((i) => (i.kind === 'group' ? i.members.map((m) => m.address) : [i.address])).filter((a) => a !== '');
}

export interface FilteredAddressList {
  /** The items that stay (groups keep their name, possibly with no member left). */
  readonly items: AddressItem[];
  /** The addresses (and address-less words) that were taken out. */
  readonly removed: string[];
  /** Whether any address remains. */
  readonly hasAddress: boolean;
}

/** A dot-atom addr-spec (or one with a domain literal): what can be written as `<address>` on its own. */
const PLAIN_ADDRESS = /^[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@(?:[a-z0-9.-]+|\[[a-z0-9.:]+\])$/;

/**
 * Keeps the mailboxes whose address passes `keep` (lower-cased); an item without an address, or
 * whose address is no plain addr-spec (addressparser reads odd ones out of broken text), never does.
 */
export function filterAddressList(items: readonly AddressItem[], keep: (address: string) => boolean): FilteredAddressList {
  const removed: string[] = [];
  const pass = (m: MailboxItem): boolean => {
    const ok = PLAIN_ADDRESS.test(m.address) && keep(m.address);
    if (!ok) removed.push(m.address || m.raw);
    return ok;
  };
  const out: AddressItem[] = [];
  for (const i of items) {
    if (i.kind === 'group') out.push({ kind: 'group', name: i.name, members: i.members.filter(pass) });
    else if (pass(i)) out.push(i);
  }
  return { items: out, removed, hasAddress: addressesOf(out).length > 0 };
}

/**
 * The field `name: item, item…` with CRLF, folded after every comma so that no line gets long
 * however many addresses there are. Items go out as they were written — unless an item's text
 * does not stand on its own (an unbalanced quote, comment, bracket or a stray separator that
 * spanned what was taken out): such an item goes out as `<address>`, so the field names
 * exactly the kept addresses, whatever was around the removed ones.
 */
export function formatAddressField(name: string, items: readonly AddressItem[]): string {
  const mailbox = (m: MailboxItem): string => (standsAlone(m.raw) && addressOf(m.raw) === m.address ? m.raw : `<${m.address}>`);
  const text = items.map((i) => {
    if (i.kind !== 'group') return mailbox(i);
    const members = i.members.map(mailbox).join(',\r\n ');
    return standsAlone(i.name) && !/[:;]/.test(i.name) ? `${i.name}:${members};` : members;
  });
  return `${name}: ${text.filter((t) => t !== '').join(',\r\n ')}\r\n`;
}

/**
 * Calls `visit` for every character of `text` outside quoted strings, comments and domain
 * literals ([IPv6:…] may hold colons), backslash escapes honoured; `visit` returning false stops
 * the walk. Returns whether the walk ended outside all three.
 */
function walkOutsideQuotes(text: string, visit: (c: string, i: number) => boolean | void): boolean {
  let quoted = false;
  let comment = 0;
  let literal = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (comment > 0) {
      if (c === '\\') i++;
      else if (c === '(') comment++;
      else if (c === ')') comment--;
    } else if (literal) {
      if (c === '\\') i++;
      else if (c === ']') literal = false;
    } else if (c === '"') quoted = true;
    else if (c === '(') comment = 1;
    else if (c === '[') literal = true;
    else if (visit(c, i) === false) return false;
  }
  return !quoted && comment === 0 && !literal;
}

/** Whether `raw` has no line break, no unclosed quote, comment, angle bracket or domain literal and no top-level separator. */
function standsAlone(raw: string): boolean {
  if (/[\r\n]/.test(raw)) return false;
  let angle = false;
  const closed = walkOutsideQuotes(raw, (c) => {
    if (c === '<') {
      if (angle) return false;
      angle = true;
    } else if (c === '>') {
      if (!angle) return false;
      angle = false;
    } else if (!angle && (c === ',' || c === ';' || c === ':')) return false;
    return true;
  });
  return closed && !angle;
}
