/**
 * The user and password of an `Authorization: Basic` header (RFC 7617, UTF-8), or undefined
 * when there is none or it is malformed. Shared by the endpoints that take HTTP Basic: the
 * archive integration and KIM's AccountLimit.
 */
export function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}
