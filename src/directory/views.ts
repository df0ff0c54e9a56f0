import { BASE_OBJECT_CLASSES, ENTRY_OBJECT_CLASSES, attributeDef, operationalName, type AttributeDef } from './attributes.js';
import type { DirEntry } from './entry.js';
import type { Matchable } from './match.js';
import type { EntryView } from './select.js';

/** GeneralizedTime (RFC 4517 3.3.13) in UTC, as createTimestamp/modifyTimestamp use it. */
export function generalizedTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}

function operationalValues(e: DirEntry, dn: string, lower: string): string[] | null {
  switch (operationalName(lower)) {
    case 'createTimestamp':
      return [generalizedTime(e.createdAt)];
    case 'modifyTimestamp':
      return [generalizedTime(e.modifiedAt)];
    case 'entryDN':
      return [dn];
    case 'entryUUID':
      return [e.entryUuid];
    case 'hasSubordinates':
      return ['FALSE'];
    default:
      return null;
  }
}

/** A stored entry as filters see it. */
export function entryMatchable(e: DirEntry, dn: () => string, dnValues: () => string[]): Matchable {
  const memo = (e.norm ??= new Map());
  return {
    strings(lower) {
      if (lower === 'objectclass') return { syntax: 'string', values: ENTRY_OBJECT_CLASSES };
      const def = attributeDef(lower);
      if (def) return def.syntax === 'binary' ? null : { syntax: def.syntax, values: e.attrs[def.name] ?? [], memo };
      const op = operationalValues(e, dn(), lower);
      return op ? { syntax: 'string', values: op } : null;
    },
    binaries(lower) {
      const def = attributeDef(lower);
      return def?.syntax === 'binary' ? e.certs : null;
    },
    dnValues,
  };
}

/** The base DN's container entry (`dc=data,dc=vzd`) as filters see it. */
export function baseMatchable(rdnType: string, rdnValue: string, dn: string, dnValues: string[]): Matchable {
  return {
    strings(lower) {
      if (lower === rdnType.toLowerCase()) return { syntax: 'string', values: [rdnValue] };
      if (lower === 'objectclass') return { syntax: 'string', values: BASE_OBJECT_CLASSES };
      if (lower === 'entrydn') return { syntax: 'string', values: [dn] };
      const def = attributeDef(lower);
      return def && def.syntax !== 'binary' ? { syntax: def.syntax, values: [] } : null;
    },
    binaries(lower) {
      return attributeDef(lower)?.syntax === 'binary' ? [] : null;
    },
    dnValues: () => dnValues,
  };
}

export function entryView(e: DirEntry, dn: string): EntryView {
  return {
    objectClasses: ENTRY_OBJECT_CLASSES,
    stored: (def: AttributeDef) => (def.syntax === 'binary' ? e.certs : (e.attrs[def.name] ?? [])),
    extra: () => [],
    operational: (name) => operationalValues(e, dn, name.toLowerCase()) ?? [],
  };
}

export function baseView(rdnType: string, rdnValue: string, dn: string): EntryView {
  return {
    objectClasses: BASE_OBJECT_CLASSES,
    stored: () => [],
    extra: () => [{ name: rdnType, values: [rdnValue] }],
    operational: (name) => (name === 'entryDN' ? [dn] : name === 'hasSubordinates' ? ['TRUE'] : []),
  };
}
