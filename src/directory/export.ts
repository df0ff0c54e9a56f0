import { formatLdifRecord, LDIF_VERSION_LINE } from '../wire/ldif/index.js';
import type { LdapFilter } from '../wire/ldap/index.js';
import { ENTRY_OBJECT_CLASSES } from './attributes.js';
import type { Directory } from './directory.js';
import { entryPairs, type DirEntry } from './entry.js';

const EVERYTHING: LdapFilter = { type: 'present', attribute: 'objectClass' };

/** One entry as an LDIF record that `importLdif` reads back unchanged. */
export function entryToLdif(dir: Directory, e: DirEntry): string {
  const attrs: Array<{ name: string; value: Buffer | string }> = ENTRY_OBJECT_CLASSES.map((c) => ({ name: 'objectClass', value: c }));
  for (const { def, value } of entryPairs(e)) attrs.push({ name: def.syntax === 'binary' ? 'userCertificate;binary' : def.name, value });
  return formatLdifRecord(dir.dnOf(e), attrs);
}

/** Streams the entries matching `filter` (all by default) as LDIF, in id order. */
export async function* exportLdif(dir: Directory, filter: LdapFilter = EVERYTHING, signal?: AbortSignal): AsyncGenerator<string> {
  yield LDIF_VERSION_LINE;
  const search = dir.search({ baseDn: dir.baseDn, scope: 'one', filter, limit: Number.MAX_SAFE_INTEGER, ...(signal ? { signal } : {}) });
  for await (const hit of search) if (hit.kind === 'entry') yield entryToLdif(dir, hit.entry);
}
