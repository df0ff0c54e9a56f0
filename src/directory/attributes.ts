/**
 * The VZD attribute set (gemSpec_VZD, shared/domain/komle.md): canonical names, aliases,
 * syntax, how many values an entry may hold, and which are indexed in `dir_values`.
 *
 * - `cn` mirrors `displayName`: it is not stored; filters on it use displayName's values and
 *   index, and entries return it with displayName's value.
 * - `streetAddress` is returned as `street` (as the VZD does); both names are accepted.
 * - `userCertificate` holds DER and is returned as `userCertificate;binary` for `*`.
 */
export type Syntax = 'string' | 'integer' | 'boolean' | 'binary';

export interface AttributeDef {
  /** The name stored in JSON and used in exports. */
  name: string;
  /** The name under which `*` returns it. */
  returnAs: string;
  /** Lower-case names that mean this attribute (name and aliases). */
  names: string[];
  syntax: Syntax;
  min: number;
  max: number;
  /** Equality and prefix lookups use dir_values (attr = name). */
  indexed: boolean;
}

function def(name: string, o: Partial<AttributeDef> & { aliases?: string[] } = {}): AttributeDef {
  return {
    name,
    returnAs: o.returnAs ?? name,
    names: [name, ...(o.aliases ?? [])].map((n) => n.toLowerCase()),
    syntax: o.syntax ?? 'string',
    min: o.min ?? 0,
    max: o.max ?? 1,
    indexed: o.indexed ?? false,
  };
}

const MANY = 100;

/** The stored attributes, in the order entries present them. */
export const ATTRIBUTES: readonly AttributeDef[] = [
  def('uid', { min: 1, indexed: true }),
  def('telematikID', { min: 1, indexed: true }),
  def('domainID', { max: MANY, indexed: true }),
  def('displayName', { min: 1, indexed: true }),
  def('givenName', { indexed: true }),
  def('sn', { aliases: ['surname'], indexed: true }),
  def('title'),
  def('organization', { aliases: ['o', 'organizationName'], indexed: true }),
  def('otherName'),
  def('streetAddress', { aliases: ['street'], returnAs: 'street' }),
  def('postalCode', { indexed: true }),
  def('localityName', { aliases: ['l'], indexed: true }),
  def('stateOrProvinceName', { aliases: ['st'], indexed: true }),
  def('countryCode'),
  def('professionOID', { max: MANY, indexed: true }),
  def('specialization', { max: MANY, indexed: true }),
  def('entryType', { syntax: 'integer', max: MANY, indexed: true }),
  def('mail', { max: MANY, indexed: true }),
  // `<version>,<address>`, one per mail address (api-vzd LDAP_Attribute.adoc).
  def('komLeData', { max: MANY }),
  // Its successor: `<address>,<version>[+][,<appTag>|<appTag>…]`, one per mail address; `+` =
  // messages above 15 MiB can be received there.
  def('kimData', { max: MANY }),
  // How many: EntryLimits.maxCertificates (config directory.maxCertificates), not `max`.
  def('userCertificate', { syntax: 'binary', max: Number.POSITIVE_INFINITY, returnAs: 'userCertificate;binary' }),
  def('dataFromAuthority', { syntax: 'boolean' }),
  def('personalEntry', { syntax: 'boolean' }),
  def('holder', { max: MANY }),
  def('maxKOMLEadr', { syntax: 'integer' }),
  def('changeDateTime'),
  def('usage', { max: MANY }),
  def('description', { max: MANY }),
];

/** `cn` is displayName under another name (filters and selection), never stored. */
export const CN = 'cn';
/** Object classes every entry reports (not stored; `objectClass=*` is the usual "all"). */
export const ENTRY_OBJECT_CLASSES = ['top', 'vzdEntry'];
export const BASE_OBJECT_CLASSES = ['top', 'domain', 'dcObject'];

/** Operational attributes, returned for `+` or by name. */
export const OPERATIONAL = ['createTimestamp', 'modifyTimestamp', 'entryDN', 'entryUUID', 'hasSubordinates'] as const;

const byName = new Map<string, AttributeDef>();
for (const a of ATTRIBUTES) for (const n of a.names) byName.set(n, a);

/** The attribute type of a description such as `userCertificate;binary` or `L`. */
export function baseName(description: string): { name: string; options: string[] } {
  const parts = description.split(';');
  return { name: parts[0]!.toLowerCase(), options: parts.slice(1).map((o) => o.toLowerCase()) };
}

/** The stored attribute a (lower-case) name means, or undefined (cn, objectClass and operational ones are not stored). */
export function attributeDef(lowerName: string): AttributeDef | undefined {
  return byName.get(lowerName);
}

export function operationalName(lowerName: string): (typeof OPERATIONAL)[number] | undefined {
  return OPERATIONAL.find((o) => o.toLowerCase() === lowerName);
}

export const INDEXED_ATTRIBUTES = ATTRIBUTES.filter((a) => a.indexed).map((a) => a.name);
