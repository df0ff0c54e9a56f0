/**
 * Writes LDIF (RFC 2849) records: values that are not SAFE-STRINGs go base64 (`::`), lines
 * are folded at 76 columns. Pure.
 */
const FOLD = 76;

/** Whether the value can be written as it is (RFC 2849 SAFE-STRING, ASCII only). */
export function isSafeLdifValue(v: Buffer): boolean {
  if (v.length === 0) return true;
  const first = v[0]!;
  if (first === 0x20 || first === 0x3a || first === 0x3c) return false;
  if (v[v.length - 1] === 0x20) return false;
  for (const b of v) if (b === 0 || b === 0x0a || b === 0x0d || b > 0x7f) return false;
  return true;
}

function fold(line: string): string {
  if (line.length <= FOLD) return line;
  const parts = [line.slice(0, FOLD)];
  for (let k = FOLD; k < line.length; k += FOLD - 1) parts.push(' ' + line.slice(k, k + FOLD - 1));
  return parts.join('\n');
}

export function formatLdifLine(name: string, value: Buffer | string): string {
  const v = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return fold(isSafeLdifValue(v) ? `${name}: ${v.toString('latin1')}` : `${name}:: ${v.toString('base64')}`);
}

/** One record, ending with the empty separator line. */
export function formatLdifRecord(dn: string, attributes: Array<{ name: string; value: Buffer | string }>): string {
  const lines = [formatLdifLine('dn', dn)];
  for (const a of attributes) lines.push(formatLdifLine(a.name, a.value));
  return lines.join('\n') + '\n\n';
}

export const LDIF_VERSION_LINE = 'version: 1\n\n';
