import { BerError, CLASS, LDAP_BER, readBer, type Tlv } from '../ber/index.js';
import { boolean, enumerated, hasTag, isBoolean, octets, sequence, set, text, uint31 } from './ber-fields.js';
import { LdapDecodeError } from './errors.js';
import { FilterTooDeepError, decodeFilter } from './filter-decode.js';
import { OP, type LdapControl, type LdapOperation, type LdapOperationType, type LdapRequest, type PartialAttribute } from './protocol.js';

export interface DecodeOptions {
  /** Deepest nesting of and/or/not accepted in a search filter. */
  maxFilterDepth: number;
}

const APP = CLASS.application;
const CTX = CLASS.context;

const REQUEST_TYPES: Partial<Record<number, LdapOperationType>> = {
  [OP.bindRequest]: 'bind',
  [OP.unbindRequest]: 'unbind',
  [OP.searchRequest]: 'search',
  [OP.modifyRequest]: 'modify',
  [OP.addRequest]: 'add',
  [OP.delRequest]: 'delete',
  [OP.modDNRequest]: 'modifyDn',
  [OP.compareRequest]: 'compare',
  [OP.abandonRequest]: 'abandon',
  [OP.extendedRequest]: 'extended',
};

function fail(why: string): never {
  throw new BerError('malformed', why);
}

/**
 * Decodes one LDAPMessage (a complete frame from the BerFrameSplitter). Throws only
 * LdapDecodeError: fatal for anything that breaks the message structure, non-fatal for a
 * well-formed request the server should refuse on its own (a filter nested too deeply).
 */
export function decodeLdapMessage(frame: Uint8Array, opts: DecodeOptions): LdapRequest {
  let messageId: number | undefined;
  let requestType: LdapOperationType | undefined;
  try {
    const items = sequence(readBer(frame, 'LDAPMessage', LDAP_BER), 'LDAPMessage');
    messageId = uint31(items[0], 'messageID');
    const opTlv = items[1];
    if (!opTlv || opTlv.tagClass !== APP) fail('protocolOp missing');
    requestType = REQUEST_TYPES[opTlv.tagNumber];
    if (!requestType) fail(`protocolOp [APPLICATION ${opTlv.tagNumber}] is not a request`);
    let controls: LdapControl[] = [];
    if (items.length > 2) {
      controls = decodeControls(items[2]!);
      if (items.length > 3) fail('LDAPMessage has extra fields');
    }
    const op = decodeOperation(requestType, opTlv, opts);
    return { messageId, op, controls };
  } catch (err) {
    if (err instanceof FilterTooDeepError) throw new LdapDecodeError(err.message, false, messageId, requestType);
    if (err instanceof BerError) throw new LdapDecodeError(err.message, true, messageId, requestType);
    // A bug in the decoder must not take the server down either; it is still a bad request to us.
    throw new LdapDecodeError(`undecodable request (${err instanceof Error ? err.message : String(err)})`, true, messageId, requestType);
  }
}

function decodeControls(tlv: Tlv): LdapControl[] {
  return sequence(tlv, 'controls', CTX, 0).map((c) => {
    const [typeTlv, a, b, extra] = sequence(c, 'Control');
    if (extra) fail('Control has extra fields');
    const control: LdapControl = { type: text(typeTlv, 'controlType'), critical: false };
    let next = a;
    if (isBoolean(next)) {
      control.critical = boolean(next, 'criticality');
      next = b;
    } else if (b) fail('Control has extra fields');
    if (next) control.value = octets(next, 'controlValue');
    return control;
  });
}

function decodeOperation(type: LdapOperationType, tlv: Tlv, opts: DecodeOptions): LdapOperation {
  switch (type) {
    case 'bind':
      return decodeBind(sequence(tlv, 'BindRequest', APP, OP.bindRequest));
    case 'unbind':
      if (tlv.constructed || tlv.contentEnd !== tlv.contentStart) fail('UnbindRequest must be NULL');
      return { type: 'unbind' };
    case 'search':
      return decodeSearch(sequence(tlv, 'SearchRequest', APP, OP.searchRequest), opts);
    case 'modify': {
      const [object, changes, extra] = sequence(tlv, 'ModifyRequest', APP, OP.modifyRequest);
      if (extra) fail('ModifyRequest has extra fields');
      const ops = ['add', 'delete', 'replace', 'increment'] as const;
      return {
        type: 'modify',
        object: text(object, 'object'),
        changes: sequence(changes, 'changes').map((ch) => {
          const [opTlv, mod, more] = sequence(ch, 'change');
          if (more) fail('change has extra fields');
          const operation = ops[enumerated(opTlv, 'operation')];
          if (!operation) fail('unknown modify operation');
          return { operation, modification: decodePartialAttribute(mod) };
        }),
      };
    }
    case 'add': {
      const [entry, attrs, extra] = sequence(tlv, 'AddRequest', APP, OP.addRequest);
      if (extra) fail('AddRequest has extra fields');
      return { type: 'add', entry: text(entry, 'entry'), attributes: sequence(attrs, 'attributes').map(decodePartialAttribute) };
    }
    case 'delete':
      return { type: 'delete', entry: text(tlv, 'DelRequest', APP, OP.delRequest) };
    case 'modifyDn': {
      const items = sequence(tlv, 'ModifyDNRequest', APP, OP.modDNRequest);
      if (items.length < 3 || items.length > 4) fail('ModifyDNRequest needs 3 or 4 fields');
      const op: LdapOperation = {
        type: 'modifyDn',
        entry: text(items[0], 'entry'),
        newRdn: text(items[1], 'newrdn'),
        deleteOldRdn: boolean(items[2], 'deleteoldrdn'),
      };
      if (items[3]) op.newSuperior = text(items[3], 'newSuperior', CTX, 0);
      return op;
    }
    case 'compare': {
      const [entry, ava, extra] = sequence(tlv, 'CompareRequest', APP, OP.compareRequest);
      if (extra) fail('CompareRequest has extra fields');
      const [attr, value, more] = sequence(ava, 'ava');
      if (more) fail('ava has extra fields');
      return { type: 'compare', entry: text(entry, 'entry'), attribute: text(attr, 'attributeDesc'), value: octets(value, 'assertionValue') };
    }
    case 'abandon':
      return { type: 'abandon', messageId: uint31(tlv, 'AbandonRequest', APP, OP.abandonRequest) };
    case 'extended': {
      const items = sequence(tlv, 'ExtendedRequest', APP, OP.extendedRequest);
      if (items.length < 1 || items.length > 2) fail('ExtendedRequest needs 1 or 2 fields');
      const op: LdapOperation = { type: 'extended', name: text(items[0], 'requestName', CTX, 0) };
      if (items[1]) op.value = octets(items[1], 'requestValue', CTX, 1);
      return op;
    }
  }
}

function decodeBind(items: Tlv[]): LdapOperation {
  if (items.length !== 3) fail('BindRequest needs 3 fields');
  const version = uint31(items[0], 'version');
  const name = text(items[1], 'name');
  const auth = items[2]!;
  if (hasTag(auth, CTX, 0) && !auth.constructed) return { type: 'bind', version, name, auth: { method: 'simple', password: octets(auth, 'simple', CTX, 0) } };
  if (hasTag(auth, CTX, 3)) {
    const [mech, creds, extra] = sequence(auth, 'SaslCredentials', CTX, 3);
    if (extra) fail('SaslCredentials has extra fields');
    const sasl: LdapOperation = { type: 'bind', version, name, auth: { method: 'sasl', mechanism: text(mech, 'mechanism') } };
    if (creds && sasl.auth.method === 'sasl') sasl.auth.credentials = octets(creds, 'credentials');
    return sasl;
  }
  fail('unknown AuthenticationChoice');
}

const SCOPES = ['base', 'one', 'sub'] as const;

function decodeSearch(items: Tlv[], opts: DecodeOptions): LdapOperation {
  if (items.length !== 8) fail('SearchRequest needs 8 fields');
  const scope = SCOPES[enumerated(items[1], 'scope')];
  if (!scope) fail('unknown scope');
  const derefAliases = enumerated(items[2], 'derefAliases');
  if (derefAliases > 3) fail('unknown derefAliases');
  const filterTlv = items[6]!;
  return {
    type: 'search',
    baseObject: text(items[0], 'baseObject'),
    scope,
    derefAliases,
    sizeLimit: uint31(items[3], 'sizeLimit'),
    timeLimit: uint31(items[4], 'timeLimit'),
    typesOnly: boolean(items[5], 'typesOnly'),
    filter: decodeFilter(filterTlv, opts.maxFilterDepth),
    attributes: sequence(items[7], 'attributes').map((a) => text(a, 'attribute selector')),
  };
}

function decodePartialAttribute(tlv: Tlv | undefined): PartialAttribute {
  const [type, vals, extra] = sequence(tlv, 'PartialAttribute');
  if (extra) fail('PartialAttribute has extra fields');
  return { type: text(type, 'type'), values: set(vals, 'vals').map((v) => octets(v, 'value')) };
}

