import type { LdapFilter } from '../wire/ldap/index.js';
import type { LdapAttribute } from './backend.js';

export interface RootDseInfo {
  namingContexts: string[];
  supportedControls: string[];
  supportedExtensions: string[];
  vendorVersion: string;
}

/**
 * The root DSE (RFC 4512 5.1): what a client reads with base "" and scope base to learn the
 * naming contexts and what the server supports. Everything but objectClass is operational, so
 * `*` alone returns objectClass and `+` (RFC 3673) or the attribute names return the rest.
 */
export function rootDseAttributes(info: RootDseInfo, requested: readonly string[], typesOnly: boolean): LdapAttribute[] {
  const user: LdapAttribute[] = [{ type: 'objectClass', values: [Buffer.from('top')] }];
  const operational: LdapAttribute[] = [
    { type: 'namingContexts', values: info.namingContexts.map((c) => Buffer.from(c)) },
    { type: 'supportedLDAPVersion', values: [Buffer.from('3')] },
    { type: 'supportedControl', values: info.supportedControls.map((c) => Buffer.from(c)) },
    { type: 'supportedExtension', values: info.supportedExtensions.map((c) => Buffer.from(c)) },
    { type: 'supportedFeatures', values: [Buffer.from('1.3.6.1.4.1.4203.1.5.1')] }, // `+` (RFC 3673)
    { type: 'vendorName', values: [Buffer.from('Postamt')] },
    { type: 'vendorVersion', values: [Buffer.from(info.vendorVersion)] },
  ];
  const wanted = requested.map((r) => r.toLowerCase());
  const allUser = wanted.length === 0 || wanted.includes('*');
  const allOperational = wanted.includes('+');
  const out = [...user, ...operational].filter((a) => {
    const isUser = user.includes(a);
    return (isUser && allUser) || (!isUser && allOperational) || wanted.includes(a.type.toLowerCase());
  });
  return typesOnly ? out.map((a) => ({ type: a.type, values: [] })) : out;
}

/** Whether the root DSE matches a filter (only presence and equality make sense on it). */
export function rootDseMatches(filter: LdapFilter, attrs: readonly LdapAttribute[]): boolean {
  const find = (name: string): LdapAttribute | undefined => attrs.find((a) => a.type.toLowerCase() === name.toLowerCase());
  switch (filter.type) {
    case 'and':
      return filter.filters.every((f) => rootDseMatches(f, attrs));
    case 'or':
      return filter.filters.some((f) => rootDseMatches(f, attrs));
    case 'not':
      return !rootDseMatches(filter.filter, attrs);
    case 'present':
      return find(filter.attribute) !== undefined;
    case 'equality': {
      const want = filter.value.toString('utf8').toLowerCase();
      return find(filter.attribute)?.values.some((v) => v.toString('utf8').toLowerCase() === want) ?? false;
    }
    default:
      return false;
  }
}
