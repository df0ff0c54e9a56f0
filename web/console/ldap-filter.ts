/**
 * RFC 4515 value escaping: `*`, `(`, `)`, `\` and NUL become `\2a`, `\28`, `\29`, `\5c`, `\00`,
 * so what an operator types is always a value, never filter syntax. Non-ASCII stays as UTF-8
 * text, which RFC 4515 allows in a value.
 */
export function escapeFilterValue(v: string): string {
  return v.replace(/[*()\\\u0000]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * The search a primary system makes from its form: the name anywhere in displayName, mail and
 * Telematik-ID from their start; the filled fields must all match. Undefined when none is filled
 * (the API then lists every entry).
 */
export function directorySearchFilter(f: { name: string; mail: string; telematikId: string }): string | undefined {
  const parts: string[] = [];
  const name = f.name.trim();
  const mail = f.mail.trim();
  const tid = f.telematikId.trim();
  if (name) parts.push(`(displayName=*${escapeFilterValue(name)}*)`);
  if (mail) parts.push(`(mail=${escapeFilterValue(mail)}*)`);
  if (tid) parts.push(`(telematikID=${escapeFilterValue(tid)}*)`);
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? parts[0] : `(&${parts.join('')})`;
}
