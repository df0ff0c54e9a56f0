import type { LdapFilter } from './filter-ast.js';
import { LdapFilterSyntaxError } from './errors.js';

// The string representation of search filters (RFC 4515), for the CLI, tests and logs.
// Values are octets: `\2a` style escapes become the byte, other characters their UTF-8.

const ATTR_CHAR = /[A-Za-z0-9;.\-_]/;

export interface ParseFilterOptions {
  maxDepth?: number;
}

/** Parses "(&(mail=a@b)(cn=Dr*))" into an LdapFilter; throws LdapFilterSyntaxError. */
export function parseFilter(input: string, opts: ParseFilterOptions = {}): LdapFilter {
  const p = new Parser(input, opts.maxDepth ?? 64);
  const trimmed = input.trim();
  // Tolerated as in most tools: a bare item without the outer parentheses.
  if (trimmed.length > 0 && !trimmed.startsWith('(')) {
    const bare = new Parser(`(${trimmed})`, opts.maxDepth ?? 64);
    const f = bare.filter(1);
    bare.end();
    return f;
  }
  p.skipSpace();
  const f = p.filter(1);
  p.skipSpace();
  p.end();
  return f;
}

class Parser {
  pos = 0;

  constructor(
    private readonly s: string,
    private readonly maxDepth: number,
  ) {}

  fail(why: string): never {
    throw new LdapFilterSyntaxError(`filter syntax error at ${this.pos}: ${why}`, this.pos);
  }

  skipSpace(): void {
    while (this.s[this.pos] === ' ') this.pos++;
  }

  end(): void {
    if (this.pos !== this.s.length) this.fail('unexpected text after the filter');
  }

  expect(ch: string): void {
    if (this.s[this.pos] !== ch) this.fail(`'${ch}' expected`);
    this.pos++;
  }

  filter(depth: number): LdapFilter {
    if (depth > this.maxDepth) this.fail(`nested deeper than ${this.maxDepth}`);
    this.expect('(');
    let f: LdapFilter;
    const c = this.s[this.pos];
    if (c === '&' || c === '|') {
      this.pos++;
      const filters: LdapFilter[] = [];
      while (this.s[this.pos] === '(') filters.push(this.filter(depth + 1));
      f = c === '&' ? { type: 'and', filters } : { type: 'or', filters };
    } else if (c === '!') {
      this.pos++;
      f = { type: 'not', filter: this.filter(depth + 1) };
    } else {
      f = this.item();
    }
    this.expect(')');
    return f;
  }

  attr(): string {
    const start = this.pos;
    while (this.pos < this.s.length && ATTR_CHAR.test(this.s[this.pos]!)) this.pos++;
    return this.s.slice(start, this.pos);
  }

  item(): LdapFilter {
    const attribute = this.attr();
    const c = this.s[this.pos];
    if (c === ':') return this.extensible(attribute);
    if (!attribute) this.fail('attribute description expected');
    if (c === '~' || c === '>' || c === '<') {
      this.pos++;
      this.expect('=');
      const value = this.value(false)[0]!;
      const type = c === '~' ? 'approxMatch' : c === '>' ? 'greaterOrEqual' : 'lessOrEqual';
      return { type, attribute, value };
    }
    this.expect('=');
    const pieces = this.value(true);
    if (pieces.length === 1) return { type: 'equality', attribute, value: pieces[0]! };
    if (pieces.length === 2 && pieces[0]!.length === 0 && pieces[1]!.length === 0) return { type: 'present', attribute };
    const initial = pieces[0]!;
    const final = pieces[pieces.length - 1]!;
    const any = pieces.slice(1, -1);
    if (any.some((a) => a.length === 0)) this.fail('empty substring between two *');
    const f: LdapFilter & { type: 'substrings' } = { type: 'substrings', attribute, any };
    if (initial.length) f.initial = initial;
    if (final.length) f.final = final;
    return f;
  }

  extensible(attribute: string): LdapFilter {
    const f: LdapFilter & { type: 'extensibleMatch' } = { type: 'extensibleMatch', value: Buffer.alloc(0), dnAttributes: false };
    if (attribute) f.attribute = attribute;
    this.expect(':');
    if (this.s.startsWith('dn:', this.pos)) {
      f.dnAttributes = true;
      this.pos += 3;
    }
    if (this.s[this.pos] !== '=') {
      const rule = this.attr();
      if (!rule) this.fail('matching rule expected');
      f.matchingRule = rule;
      this.expect(':');
    }
    this.expect('=');
    if (f.attribute === undefined && f.matchingRule === undefined) this.fail('extensible match needs an attribute or a matching rule');
    f.value = this.value(false)[0]!;
    return f;
  }

  /** The assertion value up to ')', split at unescaped '*' when `stars` (else '*' is an error). */
  value(stars: boolean): Buffer[] {
    const pieces: Buffer[] = [];
    let bytes: number[] = [];
    while (this.pos < this.s.length) {
      const c = this.s[this.pos]!;
      if (c === ')') break;
      if (c === '(') this.fail("unescaped '(' in a value");
      if (c === '*') {
        if (!stars) this.fail("unescaped '*' in a value");
        pieces.push(Buffer.from(bytes));
        bytes = [];
        this.pos++;
        continue;
      }
      if (c === '\\') {
        const hex = this.s.slice(this.pos + 1, this.pos + 3);
        if (!/^[0-9A-Fa-f]{2}$/.test(hex)) this.fail('\\ must be followed by two hex digits');
        bytes.push(parseInt(hex, 16));
        this.pos += 3;
        continue;
      }
      const cp = this.s.codePointAt(this.pos)!;
      const ch = String.fromCodePoint(cp);
      for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
      this.pos += ch.length;
    }
    pieces.push(Buffer.from(bytes));
    return pieces;
  }
}

/** The string form of a filter; values are escaped so that parseFilter gives the same filter back. */
export function formatFilter(f: LdapFilter): string {
  switch (f.type) {
    case 'and':
      return `(&${f.filters.map(formatFilter).join('')})`;
    case 'or':
      return `(|${f.filters.map(formatFilter).join('')})`;
    case 'not':
      return `(!${formatFilter(f.filter)})`;
    case 'equality':
      return `(${f.attribute}=${escapeFilterValue(f.value)})`;
    case 'greaterOrEqual':
      return `(${f.attribute}>=${escapeFilterValue(f.value)})`;
    case 'lessOrEqual':
      return `(${f.attribute}<=${escapeFilterValue(f.value)})`;
    case 'approxMatch':
      return `(${f.attribute}~=${escapeFilterValue(f.value)})`;
    case 'present':
      return `(${f.attribute}=*)`;
    case 'substrings':
      return `(${f.attribute}=${f.initial ? escapeFilterValue(f.initial) : ''}*${f.any.map((a) => escapeFilterValue(a) + '*').join('')}${f.final ? escapeFilterValue(f.final) : ''})`;
    case 'extensibleMatch':
      return `(${f.attribute ?? ''}${f.dnAttributes ? ':dn' : ''}${f.matchingRule ? ':' + f.matchingRule : ''}:=${escapeFilterValue(f.value)})`;
  }
}

/**
 * RFC 4515 3: `*`, `(`, `)`, `\` and NUL are always escaped; so are control characters and,
 * when the value is not valid UTF-8 (a DER certificate), every non-ASCII byte.
 */
export function escapeFilterValue(value: Uint8Array): string {
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const text = buf.toString('utf8');
  const validUtf8 = Buffer.byteLength(text, 'utf8') === buf.length && !text.includes('\uFFFD');
  if (validUtf8) {
    let out = '';
    for (const ch of text) {
      const code = ch.codePointAt(0)!;
      out += code < 0x20 || code === 0x7f || ch === '*' || ch === '(' || ch === ')' || ch === '\\' ? hexEscape(code) : ch;
    }
    return out;
  }
  let out = '';
  for (const b of buf) out += b < 0x20 || b >= 0x7f || b === 0x2a || b === 0x28 || b === 0x29 || b === 0x5c ? hexEscape(b) : String.fromCharCode(b);
  return out;
}

function hexEscape(b: number): string {
  return '\\' + b.toString(16).padStart(2, '0');
}
