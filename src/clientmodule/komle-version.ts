/**
 * The KOM-LE version a mail address is registered with in the directory: `kimData`
 * (`<address>,<version>[+][,<appTag>|…]`) and the older `komLeData` (`<version>,<address>`), one
 * value per address (api-vzd LDAP_Attribute.adoc). No value means 1.0 (A_19356-06). The client
 * module compares the sender's with its own before sending (A_21387-01) and keeps every
 * recipient's, whose `+` (messages above 15 MiB) matters once large messages are built
 * (A_19356-06, KAS).
 */
export interface KomLeVersionInfo {
  /** `major.minor` as registered, e.g. `1.5`. */
  readonly version: string;
  /** The `+`: the address takes messages above 15 MiB. */
  readonly large: boolean;
  /** kimData's application tags (`eEB`, `DALE-UV` …); empty: every KIM application. */
  readonly appTags: readonly string[];
  readonly source: 'kimData' | 'komLeData' | 'default';
}

export const DEFAULT_VERSION_INFO: KomLeVersionInfo = { version: '1.0', large: false, appTags: [], source: 'default' };

const VERSION = /^(\d{1,3}(?:\.\d{1,3}){0,2})(\+)?$/;

/**
 * The version registered for `address` (compared case-insensitively). kimData wins over
 * komLeData, being the newer attribute and the one with the `+`; among several values for the
 * address (several entries) the highest counts. Malformed values are ignored.
 */
export function komLeVersionOf(address: string, kimData: readonly string[], komLeData: readonly string[]): KomLeVersionInfo {
  const key = address.trim().toLowerCase();
  const fromKim: KomLeVersionInfo[] = [];
  for (const v of kimData) {
    const [addr, version, tags] = v.split(',').map((p) => p.trim());
    const m = version ? VERSION.exec(version) : null;
    if (addr?.toLowerCase() !== key || !m) continue;
    fromKim.push({ version: m[1]!, large: m[2] === '+', appTags: tags ? tags.split('|').map((t) => t.trim()).filter(Boolean) : [], source: 'kimData' });
  }
  if (fromKim.length) return highest(fromKim);
  const fromKomLe: KomLeVersionInfo[] = [];
  for (const v of komLeData) {
    const comma = v.indexOf(',');
    const m = comma > 0 ? VERSION.exec(v.slice(0, comma).trim()) : null;
    if (!m || v.slice(comma + 1).trim().toLowerCase() !== key) continue;
    fromKomLe.push({ version: m[1]!, large: m[2] === '+', appTags: [], source: 'komLeData' });
  }
  return fromKomLe.length ? highest(fromKomLe) : DEFAULT_VERSION_INFO;
}

function highest(list: KomLeVersionInfo[]): KomLeVersionInfo {
  return list.reduce((a, b) => (compareVersions(b.version, a.version) > 0 ? b : a));
}

/** Numeric comparison of dotted versions (`1.10` > `1.5`; missing parts are 0). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}
