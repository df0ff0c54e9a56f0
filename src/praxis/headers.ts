/**
 * The header block of a message (up to the first empty line) as lower-case name → every value,
 * unfolded. Enough for the X-KIM fields, which repeat (A_23165) and carry ASCII codes only.
 */
export function headerFields(raw: Buffer): Map<string, string[]> {
  let end = raw.indexOf('\r\n\r\n');
  if (end < 0) end = raw.indexOf('\n\n');
  const text = raw.subarray(0, end < 0 ? raw.length : end).toString('latin1');
  const out = new Map<string, string[]>();
  for (const field of text.split(/\r?\n(?![ \t])/)) {
    const colon = field.indexOf(':');
    if (colon <= 0) continue;
    const name = field.slice(0, colon).trim().toLowerCase();
    const value = field.slice(colon + 1).replace(/\r?\n[ \t]+/g, ' ').trim();
    const list = out.get(name);
    if (list) list.push(value);
    else out.set(name, [value]);
  }
  return out;
}
