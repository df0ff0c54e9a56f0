/** The console's session cookie: its name, reading it from a Cookie header, writing Set-Cookie. */
export const SESSION_COOKIE = 'postamt_console';

/** The value of cookie `name` in a Cookie header, or undefined. */
export function readCookie(header: string | undefined, name = SESSION_COOKIE): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Set-Cookie for the session: HttpOnly, SameSite=Strict, Path=/, Secure when asked; maxAgeS 0 clears it. */
export function sessionCookie(value: string, opts: { secure: boolean; maxAgeS?: number }): string {
  const parts = [`${SESSION_COOKIE}=${value}`, 'HttpOnly', 'SameSite=Strict', 'Path=/'];
  if (opts.maxAgeS !== undefined) parts.push(`Max-Age=${Math.max(0, Math.floor(opts.maxAgeS))}`);
  if (opts.secure) parts.push('Secure');
  return parts.join('; ');
}
