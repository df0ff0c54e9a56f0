/**
 * The addr-specs in an address header (From, To, Cc …) — enough to compare senders with
 * certificates, not a full RFC 5322 address parser: angle-bracket addresses win, otherwise
 * comma-separated bare addresses; comments and display names are dropped. Lower-cased.
 */
export function addressesIn(value: string): string[] {
  const withoutComments = value.replace(/\((?:[^()\\]|\\.)*\)/g, ' ');
  const withoutQuoted = withoutComments.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const angled = [...withoutQuoted.matchAll(/<([^<>\s]+@[^<>\s]+)>/g)].map((m) => m[1]!);
  if (angled.length > 0) return angled.map((a) => a.toLowerCase());
  return withoutQuoted
    .split(/[,;]/)
    .map((s) => s.trim())
    .filter((s) => /^[^\s@]+@[^\s@]+$/.test(s))
    .map((s) => s.toLowerCase());
}
