/**
 * The search filter of RFC 4511 4.5.1 as the codec yields it and the directory evaluates it.
 * Attribute descriptions are as the client sent them (any case, possibly with options such
 * as `;binary`); values are the raw octets of the AssertionValue (UTF-8 for string syntaxes,
 * DER for certificates). Escapes of the string form (RFC 4515, `\2a`) are already resolved.
 */
export type LdapFilter =
  | { type: 'and'; filters: LdapFilter[] }
  | { type: 'or'; filters: LdapFilter[] }
  | { type: 'not'; filter: LdapFilter }
  | { type: 'equality'; attribute: string; value: Buffer }
  | { type: 'substrings'; attribute: string; initial?: Buffer; any: Buffer[]; final?: Buffer }
  | { type: 'greaterOrEqual'; attribute: string; value: Buffer }
  | { type: 'lessOrEqual'; attribute: string; value: Buffer }
  | { type: 'present'; attribute: string }
  | { type: 'approxMatch'; attribute: string; value: Buffer }
  | { type: 'extensibleMatch'; matchingRule?: string; attribute?: string; value: Buffer; dnAttributes: boolean };
