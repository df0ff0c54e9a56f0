/**
 * Mail address handling for accounts: a pragmatic check of `local@domain` (RFC 5321 sizes)
 * and the canonical form we store. Local parts are kept case-sensitive by RFC, but every
 * provider in practice treats them case-insensitively, and so do we: stored lower-case.
 */
export interface ParsedAddress {
  local: string;
  domain: string;
  address: string;
}

const DOMAIN_RE = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
const LOCAL_RE = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$/;

export function normalizeDomain(domain: string): string {
  return domain.trim().toLowerCase().replace(/\.$/, '');
}

export function isValidDomain(domain: string): boolean {
  return DOMAIN_RE.test(domain);
}

export function parseAddress(input: string): ParsedAddress | null {
  const s = input.trim();
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) return null;
  const local = s.slice(0, at).toLowerCase();
  const domain = normalizeDomain(s.slice(at + 1));
  if (!LOCAL_RE.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..')) return null;
  if (!isValidDomain(domain)) return null;
  return { local, domain, address: `${local}@${domain}` };
}

export function domainOf(address: string): string {
  return normalizeDomain(address.slice(address.lastIndexOf('@') + 1));
}
