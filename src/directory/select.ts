import { ATTRIBUTES, CN, OPERATIONAL, attributeDef, baseName, operationalName, type AttributeDef } from './attributes.js';

/**
 * Attribute selection (RFC 4511 4.5.1.8, RFC 3673): the requested list is compiled once per
 * search. Empty or `*` = all user attributes, `+` = operational ones, `1.1` alone = none.
 * Explicitly requested attributes come back under the name the client used (`l`,
 * `userCertificate;binary`, any case); `*` uses the VZD names (`street`,
 * `userCertificate;binary`). Unknown names are ignored.
 */

/** One selected attribute under the name asked for (the LDAP edge's LdapAttribute has this shape). */
export interface SelectedAttribute {
  type: string;
  values: Buffer[];
}

export interface EntryView {
  objectClasses: string[];
  /** Stored attribute values by canonical name, or for the base entry any name (e.g. dc). */
  stored(def: AttributeDef): Array<string | Buffer>;
  extra(): Array<{ name: string; values: string[] }>;
  operational(name: (typeof OPERATIONAL)[number]): string[];
}

type Want =
  | { kind: 'objectClass'; as: string }
  | { kind: 'cn'; as: string }
  | { kind: 'stored'; def: AttributeDef; as: string }
  | { kind: 'extra'; lower: string; as: string }
  | { kind: 'op'; name: (typeof OPERATIONAL)[number]; as: string };

export interface Selector {
  /** The requested list this selector was compiled from (a memo key). */
  readonly key: string;
  select(view: EntryView, typesOnly: boolean): SelectedAttribute[];
}

export function compileSelection(requested: string[], key = requested.join('\0')): Selector {
  const listed = requested.map((r) => r.trim()).filter((r) => r !== '');
  const allUser = listed.length === 0 || listed.includes('*');
  const allOp = listed.includes('+');
  const wants: Want[] = [];
  const seen = new Set<string>();
  const take = (key: string, w: Want): void => {
    if (seen.has(key)) return;
    seen.add(key);
    wants.push(w);
  };
  for (const r of listed) {
    if (r === '*' || r === '+' || r === '1.1') continue;
    const { name } = baseName(r);
    if (name === 'objectclass') take('objectclass', { kind: 'objectClass', as: r });
    else if (name === CN) take('cn', { kind: 'cn', as: r });
    else if (attributeDef(name)) take(attributeDef(name)!.name, { kind: 'stored', def: attributeDef(name)!, as: r });
    else if (operationalName(name)) take(operationalName(name)!, { kind: 'op', name: operationalName(name)!, as: r });
    else take(name, { kind: 'extra', lower: name, as: r });
  }
  if (allUser) {
    take('objectclass', { kind: 'objectClass', as: 'objectClass' });
    for (const def of ATTRIBUTES) {
      take(def.name, { kind: 'stored', def, as: def.returnAs });
      if (def.name === 'displayName') take('cn', { kind: 'cn', as: 'cn' });
    }
  }
  if (allOp) for (const o of OPERATIONAL) take(o, { kind: 'op', name: o, as: o });
  const includeExtras = allUser;

  return {
    key,
    select(view, typesOnly) {
      const out: SelectedAttribute[] = [];
      const push = (type: string, values: Array<string | Buffer>): void => {
        if (values.length === 0) return;
        out.push({ type, values: typesOnly ? [] : values.map((v) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v)) });
      };
      for (const w of wants) {
        switch (w.kind) {
          case 'objectClass':
            push(w.as, view.objectClasses);
            break;
          case 'cn':
            push(w.as, view.stored(attributeDef('displayname')!));
            break;
          case 'stored':
            push(w.as, view.stored(w.def));
            break;
          case 'op':
            push(w.as, view.operational(w.name));
            break;
          case 'extra':
            for (const x of view.extra()) if (x.name.toLowerCase() === w.lower) push(w.as, x.values);
            break;
        }
      }
      if (includeExtras) for (const x of view.extra()) if (!seen.has(x.name.toLowerCase())) push(x.name, x.values);
      return out;
    },
  };
}
