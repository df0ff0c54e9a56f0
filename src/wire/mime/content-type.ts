/**
 * Content-Type and Content-Disposition values (RFC 2045 5.1, RFC 2231 without continuations):
 * `type/subtype; name=value; name="quoted value"`. Type and parameter names are lower-cased.
 */
export interface ContentType {
  /** `type/subtype` in lower case; `text/plain` when the value is empty (RFC 2045 5.2). */
  readonly mediaType: string;
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

export function parseContentType(value: string | undefined): ContentType {
  const text = (value ?? '').trim();
  if (text === '') return { mediaType: 'text/plain', params: {} };
  const semi = text.indexOf(';');
  const mediaType = (semi < 0 ? text : text.slice(0, semi)).trim().toLowerCase();
  return { mediaType, params: semi < 0 ? {} : parseParams(text.slice(semi + 1)) };
}

/** `a=b; c="d;e"` → { a: 'b', c: 'd;e' }. Malformed parameters are skipped, not fatal. */
export function parseParams(text: string): Record<string, string> {
  const params: Record<string, string> = {};
  let rest = text;
  while (rest.length > 0) {
    rest = rest.replace(/^[\s;]+/, '');
    const name = TOKEN.exec(rest);
    if (!name) break;
    rest = rest.slice(name[0].length).replace(/^\s*/, '');
    if (rest[0] !== '=') continue;
    rest = rest.slice(1).replace(/^\s*/, '');
    let value: string;
    if (rest[0] === '"') {
      let i = 1;
      value = '';
      while (i < rest.length && rest[i] !== '"') {
        if (rest[i] === '\\' && i + 1 < rest.length) i++;
        value += rest[i];
        i++;
      }
      rest = rest.slice(i + 1);
    } else {
      const token = TOKEN.exec(rest);
      value = token ? token[0] : '';
      rest = rest.slice(value.length);
    }
    const key = name[0].toLowerCase();
    if (!(key in params)) params[key] = value;
  }
  return params;
}
