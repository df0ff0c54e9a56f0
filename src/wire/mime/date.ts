/** RFC 5322 3.3 date-time in UTC, e.g. `Mon, 23 Nov 2026 10:00:00 +0000`. */
export function formatRfc5322Date(d: Date): string {
  // An invalid Date would come out as `undefined, NaN undefined NaN …` inside a header field.
  if (Number.isNaN(d.getTime())) throw new RangeError('formatRfc5322Date: invalid date');
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
