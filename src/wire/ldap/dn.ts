/**
 * Distinguished names (RFC 4514): parse, format and normalise. Pure. Parsing is lenient where
 * real clients are (spaces around `,` `+` `=`, `;` as separator, RFC 2253 `OID.` prefixes) and
 * strict where ambiguity would hide a different entry (bad escapes, bad UTF-8, empty types).
 */
export interface Ava {
  /** The attribute type as written (keyword or dotted OID, without any `OID.` prefix). */
  type: string;
  /** The value with escapes resolved. A `#hex` BER value is kept as its hex text (with `#`). */
  value: string;
}
export type Rdn = Ava[];
export type Dn = Rdn[];

export class DnSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DnSyntaxError';
  }
}

const KEYWORD = /^[A-Za-z][A-Za-z0-9-]*$/;
const NUMERICOID = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$/;
const HEX = /^[0-9A-Fa-f]{2}$/;
const SPECIAL = new Set([',', '+', '"', '\\', '<', '>', ';', '=', '#', ' ']);

function isSpace(c: string | undefined): boolean {
  return c === ' ';
}

/** Parses a DN string. The empty string is the root DN (no RDNs). */
export function parseDn(input: string): Dn {
  const dn: Dn = [];
  let i = 0;
  const n = input.length;
  const skipSpaces = (): void => {
    while (i < n && isSpace(input[i])) i++;
  };
  skipSpaces();
  if (i === n) return dn;
  let rdn: Rdn = [];
  for (;;) {
    skipSpaces();
    // attribute type
    const typeStart = i;
    while (i < n && input[i] !== '=' && input[i] !== ',' && input[i] !== '+' && input[i] !== ';') i++;
    if (input[i] !== '=') throw new DnSyntaxError(`missing "=" after attribute type at position ${typeStart}`);
    let type = input.slice(typeStart, i).trim();
    if (/^oid\./i.test(type)) type = type.slice(4);
    if (!KEYWORD.test(type) && !NUMERICOID.test(type)) throw new DnSyntaxError(`invalid attribute type "${type}"`);
    i++; // '='
    skipSpaces();
    const value = parseValue();
    rdn.push({ type, value });
    skipSpaces();
    if (i === n) break;
    const sep = input[i];
    i++;
    if (sep === '+') continue;
    if (sep === ',' || sep === ';') {
      dn.push(rdn);
      rdn = [];
      skipSpaces();
      if (i === n) throw new DnSyntaxError('empty RDN at the end');
      continue;
    }
    throw new DnSyntaxError(`unexpected "${sep}" at position ${i - 1}`);
  }
  dn.push(rdn);
  return dn;

  function parseValue(): string {
    if (input[i] === '#') {
      const start = i;
      i++;
      while (i < n && /[0-9A-Fa-f]/.test(input[i]!)) i++;
      const hex = input.slice(start + 1, i);
      if (hex.length === 0 || hex.length % 2 !== 0) throw new DnSyntaxError('invalid #hex value');
      return '#' + hex.toLowerCase();
    }
    if (input[i] === '"') {
      // RFC 2253 quoted form, still seen in the wild.
      i++;
      const bytes: number[] = [];
      while (i < n && input[i] !== '"') {
        if (input[i] === '\\') readEscape(bytes);
        else pushChar(bytes);
      }
      if (input[i] !== '"') throw new DnSyntaxError('unterminated quoted value');
      i++;
      return decodeUtf8(bytes);
    }
    const bytes: number[] = [];
    // Trailing unescaped spaces are not part of the value; escaped ones are.
    let keepLen = 0;
    while (i < n && input[i] !== ',' && input[i] !== '+' && input[i] !== ';') {
      const c = input[i]!;
      if (c === '\\') {
        readEscape(bytes);
        keepLen = bytes.length;
      } else {
        if (c === '"' || c === '<' || c === '>' || c === '=') throw new DnSyntaxError(`unescaped "${c}" in value`);
        pushChar(bytes);
        if (c !== ' ') keepLen = bytes.length;
      }
    }
    return decodeUtf8(bytes.slice(0, keepLen));
  }

  /** Appends the UTF-8 of the character at i (a whole surrogate pair) and moves past it. */
  function pushChar(bytes: number[]): void {
    const s = String.fromCodePoint(input.codePointAt(i)!);
    for (const b of Buffer.from(s, 'utf8')) bytes.push(b);
    i += s.length;
  }

  function readEscape(bytes: number[]): void {
    const pair = input.slice(i + 1, i + 3);
    if (HEX.test(pair)) {
      bytes.push(parseInt(pair, 16));
      i += 3;
      return;
    }
    const c = input[i + 1];
    if (c !== undefined && SPECIAL.has(c)) {
      bytes.push(c.charCodeAt(0));
      i += 2;
      return;
    }
    throw new DnSyntaxError(`invalid escape "\\${c ?? ''}" at position ${i}`);
  }
}

function decodeUtf8(bytes: number[]): string {
  const buf = Buffer.from(bytes);
  const s = buf.toString('utf8');
  if (!Buffer.from(s, 'utf8').equals(buf)) throw new DnSyntaxError('value is not valid UTF-8');
  return s;
}

/** Escapes a value for the string form (RFC 4514 2.4). */
export function escapeDnValue(value: string): string {
  if (value.startsWith('#') && /^#([0-9a-f]{2})+$/i.test(value)) return value;
  let out = '';
  for (let k = 0; k < value.length; k++) {
    const c = value[k]!;
    const code = c.charCodeAt(0);
    if (c === ',' || c === '+' || c === '"' || c === '\\' || c === '<' || c === '>' || c === ';' || c === '=') out += '\\' + c;
    else if (code < 0x20 || code === 0x7f) out += '\\' + code.toString(16).padStart(2, '0');
    else if ((k === 0 && (c === ' ' || c === '#')) || (k === value.length - 1 && c === ' ')) out += '\\' + c;
    else out += c;
  }
  return out;
}

/** The string form of a parsed DN (types as given). */
export function formatDn(dn: Dn): string {
  return dn.map((rdn) => rdn.map((a) => `${a.type}=${escapeDnValue(a.value)}`).join('+')).join(',');
}

/**
 * Case-insensitive, whitespace-insensitive comparison key of a value (the caseIgnoreMatch
 * view: trimmed, inner runs of spaces collapsed, lower case, Unicode NFKC).
 */
export function normaliseDnValue(value: string): string {
  return value.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();
}

/** A comparison form: lower-case types, normalised values, multi-valued RDNs sorted. */
export function normaliseDn(dn: Dn): string {
  return dn
    .map((rdn) =>
      rdn
        .map((a) => `${a.type.toLowerCase()}=${escapeDnValue(normaliseDnValue(a.value))}`)
        .sort()
        .join('+'),
    )
    .join(',');
}

/** Parses and normalises in one step; throws DnSyntaxError. */
export function normaliseDnString(input: string): string {
  return normaliseDn(parseDn(input));
}
