import { BerError, CLASS, childrenOf, type Tlv } from '../ber/index.js';
import { boolean, hasTag, octets, sequence, text } from './ber-fields.js';
import type { LdapFilter } from './filter-ast.js';

/** A filter nested deeper than allowed: well-formed, but refused (protocolError for that request). */
export class FilterTooDeepError extends Error {
  constructor(readonly limit: number) {
    super(`filter nested deeper than ${limit} levels`);
    this.name = 'FilterTooDeepError';
  }
}

const CTX = CLASS.context;

function fail(why: string): never {
  throw new BerError('malformed', `filter: ${why}`);
}

/** Decodes a Filter (RFC 4511 4.5.1); `maxDepth` bounds the nesting of and/or/not. */
export function decodeFilter(tlv: Tlv, maxDepth: number): LdapFilter {
  return decodeAt(tlv, maxDepth, 1);
}

function decodeAt(tlv: Tlv, maxDepth: number, depth: number): LdapFilter {
  if (tlv.tagClass !== CTX) fail('context-specific tag expected');
  switch (tlv.tagNumber) {
    case 0:
    case 1: {
      if (!tlv.constructed) fail('and/or must be constructed');
      if (depth >= maxDepth) throw new FilterTooDeepError(maxDepth);
      // An empty and/or is allowed: absolute true/false (RFC 4526).
      const filters = childrenOf(tlv, 'filter').map((c) => decodeAt(c, maxDepth, depth + 1));
      return tlv.tagNumber === 0 ? { type: 'and', filters } : { type: 'or', filters };
    }
    case 2: {
      if (!tlv.constructed) fail('not must be constructed');
      if (depth >= maxDepth) throw new FilterTooDeepError(maxDepth);
      const inner = childrenOf(tlv, 'filter');
      if (inner.length !== 1) fail('not holds exactly one filter');
      return { type: 'not', filter: decodeAt(inner[0]!, maxDepth, depth + 1) };
    }
    case 3:
    case 5:
    case 6:
    case 8: {
      const [attr, value, extra] = sequence(tlv, 'AttributeValueAssertion', CTX, tlv.tagNumber);
      if (extra) fail('AttributeValueAssertion has extra fields');
      const attribute = text(attr, 'attributeDesc');
      const v = octets(value, 'assertionValue');
      const type = tlv.tagNumber === 3 ? 'equality' : tlv.tagNumber === 5 ? 'greaterOrEqual' : tlv.tagNumber === 6 ? 'lessOrEqual' : 'approxMatch';
      return { type, attribute, value: v };
    }
    case 4:
      return decodeSubstrings(tlv);
    case 7:
      if (tlv.constructed) fail('present must be primitive');
      return { type: 'present', attribute: text(tlv, 'present', CTX, 7) };
    case 9:
      return decodeExtensible(tlv);
    default:
      fail(`unknown filter choice [${tlv.tagNumber}]`);
  }
}

function decodeSubstrings(tlv: Tlv): LdapFilter {
  const [attr, list, extra] = sequence(tlv, 'SubstringFilter', CTX, 4);
  if (extra) fail('SubstringFilter has extra fields');
  const attribute = text(attr, 'SubstringFilter type');
  const parts = sequence(list, 'substrings');
  if (parts.length === 0) fail('substrings needs at least one element');
  const out: LdapFilter & { type: 'substrings' } = { type: 'substrings', attribute, any: [] };
  parts.forEach((p, i) => {
    if (p.tagClass !== CTX || p.constructed) fail('substring element must be [0], [1] or [2] primitive');
    const value = octets(p, 'substring', CTX, p.tagNumber);
    // initial at most once and first, final at most once and last (RFC 4511 4.5.1.7.2).
    if (p.tagNumber === 0) {
      if (i !== 0) fail('initial must come first');
      out.initial = value;
    } else if (p.tagNumber === 1) {
      out.any.push(value);
    } else if (p.tagNumber === 2) {
      if (i !== parts.length - 1) fail('final must come last');
      out.final = value;
    } else {
      fail(`unknown substring choice [${p.tagNumber}]`);
    }
  });
  return out;
}

function decodeExtensible(tlv: Tlv): LdapFilter {
  const items = sequence(tlv, 'MatchingRuleAssertion', CTX, 9);
  let i = 0;
  const out: LdapFilter & { type: 'extensibleMatch' } = { type: 'extensibleMatch', value: Buffer.alloc(0), dnAttributes: false };
  if (hasTag(items[i], CTX, 1)) out.matchingRule = text(items[i++], 'matchingRule', CTX, 1);
  if (hasTag(items[i], CTX, 2)) out.attribute = text(items[i++], 'type', CTX, 2);
  out.value = octets(items[i++], 'matchValue', CTX, 3);
  if (hasTag(items[i], CTX, 4)) out.dnAttributes = boolean(items[i++], 'dnAttributes', CTX, 4);
  if (i !== items.length) fail('MatchingRuleAssertion has extra fields');
  if (out.matchingRule === undefined && out.attribute === undefined) fail('MatchingRuleAssertion needs a matchingRule or a type');
  return out;
}
