/**
 * Content-Type and Content-Disposition values (RFC 2045 5.1):
 * `type/subtype; name=value; name="quoted value"`. Type and parameter names are lower-cased.
 * RFC 2231 extended parameters (`name*=utf-8''…`, `name*0=…`) are not decoded or joined: they
 * come back raw under their own names — none of the parameters read here (boundary, charset,
 * smime-type) is written that way.
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

/**
 * `a=b; c="d;e"` → { a: 'b', c: 'd;e' }. Malformed parameters are skipped, not fatal: one that
 * does not start with a token name, or whose unquoted value is followed by something other than
 * white space, `;` or a comment, is passed over up to the next `;`. The first of repeated names counts.
 */
export function parseParams(text: string): Record<string, string> {
  const params: Record<string, string> = {};
  let rest = text;
  // Stopping at the first bad character would lose every parameter after it (the boundary, say).
  const skip = (): void => {
    const semi = rest.indexOf(';');
    rest = semi < 0 ? '' : rest.slice(semi + 1);
  };
  while (rest.length > 0) {
    rest = rest.replace(/^[\s;]+/, '');
    const name = TOKEN.exec(rest);
    if (!name) {
      skip();
      continue;
    }
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
      if (rest !== '' && !/^[\s;(]/.test(rest)) {
        skip();
        continue;
      }
    }
    const key = name[0].toLowerCase();
    // Own properties only: `in` would see Object.prototype's `constructor` and drop such a
    // parameter, and a plain assignment to `__proto__` would not make a property at all.
    if (!Object.hasOwn(params, key)) Object.defineProperty(params, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return params;
}
