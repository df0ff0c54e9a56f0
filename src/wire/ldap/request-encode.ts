import { TAG, derBoolean, derNode, derPrimitive, derUint, derUtf8, writeDer, type DerNode, type DerPart } from '../ber/index.js';
import type { LdapFilter } from './filter-ast.js';
import { ldapMessage } from './message-encode.js';
import { OP, type LdapRequest, type PartialAttribute } from './protocol.js';

// The client side of the codec: requests as a client sends them. The server never needs it; the
// tests, the fuzzer (round trips) and the benchmark's load generator do.

const str = (s: string): DerNode => derUtf8(TAG.octetString, s);
const enumerated = (n: number): Uint8Array => derUint(TAG.enumerated, n);

export function encodeFilter(f: LdapFilter): DerNode {
  const ctx = TAG.contextConstructed;
  switch (f.type) {
    case 'and':
      return derNode(ctx(0), f.filters.map(encodeFilter));
    case 'or':
      return derNode(ctx(1), f.filters.map(encodeFilter));
    case 'not':
      return derNode(ctx(2), [encodeFilter(f.filter)]);
    case 'equality':
    case 'greaterOrEqual':
    case 'lessOrEqual':
    case 'approxMatch': {
      const tag = { equality: 3, greaterOrEqual: 5, lessOrEqual: 6, approxMatch: 8 }[f.type];
      return derNode(ctx(tag), [str(f.attribute), derPrimitive(TAG.octetString, f.value)]);
    }
    case 'substrings': {
      const parts: DerPart[] = [];
      if (f.initial) parts.push(derPrimitive(TAG.contextPrimitive(0), f.initial));
      for (const a of f.any) parts.push(derPrimitive(TAG.contextPrimitive(1), a));
      if (f.final) parts.push(derPrimitive(TAG.contextPrimitive(2), f.final));
      return derNode(ctx(4), [str(f.attribute), derNode(TAG.sequence, parts)]);
    }
    case 'present':
      return derUtf8(TAG.contextPrimitive(7), f.attribute);
    case 'extensibleMatch': {
      const parts: DerPart[] = [];
      if (f.matchingRule !== undefined) parts.push(derUtf8(TAG.contextPrimitive(1), f.matchingRule));
      if (f.attribute !== undefined) parts.push(derUtf8(TAG.contextPrimitive(2), f.attribute));
      parts.push(derPrimitive(TAG.contextPrimitive(3), f.value));
      if (f.dnAttributes) parts.push(Uint8Array.of(TAG.contextPrimitive(4), 1, 0xff));
      return derNode(ctx(9), parts);
    }
  }
}

function partialAttribute(a: PartialAttribute): DerNode {
  return derNode(TAG.sequence, [str(a.type), derNode(TAG.set, a.values.map((v) => derPrimitive(TAG.octetString, v)))]);
}

/** One request LDAPMessage as bytes. */
export function encodeRequest(req: LdapRequest): Buffer {
  const app = TAG.applicationConstructed;
  const op = req.op;
  let body: DerPart;
  switch (op.type) {
    case 'bind': {
      const auth =
        op.auth.method === 'simple'
          ? derPrimitive(TAG.contextPrimitive(0), op.auth.password)
          : derNode(TAG.contextConstructed(3), [str(op.auth.mechanism), ...(op.auth.credentials ? [derPrimitive(TAG.octetString, op.auth.credentials)] : [])]);
      body = derNode(app(OP.bindRequest), [derUint(TAG.integer, op.version), str(op.name), auth]);
      break;
    }
    case 'unbind':
      body = Uint8Array.of(TAG.applicationPrimitive(OP.unbindRequest), 0);
      break;
    case 'search':
      body = derNode(app(OP.searchRequest), [
        str(op.baseObject),
        enumerated(['base', 'one', 'sub'].indexOf(op.scope)),
        enumerated(op.derefAliases),
        derUint(TAG.integer, op.sizeLimit),
        derUint(TAG.integer, op.timeLimit),
        derBoolean(op.typesOnly),
        encodeFilter(op.filter),
        derNode(TAG.sequence, op.attributes.map(str)),
      ]);
      break;
    case 'modify':
      body = derNode(app(OP.modifyRequest), [
        str(op.object),
        derNode(
          TAG.sequence,
          op.changes.map((c) => derNode(TAG.sequence, [enumerated(['add', 'delete', 'replace', 'increment'].indexOf(c.operation)), partialAttribute(c.modification)])),
        ),
      ]);
      break;
    case 'add':
      body = derNode(app(OP.addRequest), [str(op.entry), derNode(TAG.sequence, op.attributes.map(partialAttribute))]);
      break;
    case 'delete':
      body = derUtf8(TAG.applicationPrimitive(OP.delRequest), op.entry);
      break;
    case 'modifyDn':
      body = derNode(app(OP.modDNRequest), [
        str(op.entry),
        str(op.newRdn),
        derBoolean(op.deleteOldRdn),
        ...(op.newSuperior !== undefined ? [derUtf8(TAG.contextPrimitive(0), op.newSuperior)] : []),
      ]);
      break;
    case 'compare':
      body = derNode(app(OP.compareRequest), [str(op.entry), derNode(TAG.sequence, [str(op.attribute), derPrimitive(TAG.octetString, op.value)])]);
      break;
    case 'abandon':
      body = derUint(TAG.applicationPrimitive(OP.abandonRequest), op.messageId);
      break;
    case 'extended':
      body = derNode(app(OP.extendedRequest), [
        derUtf8(TAG.contextPrimitive(0), op.name),
        ...(op.value !== undefined ? [derPrimitive(TAG.contextPrimitive(1), op.value)] : []),
      ]);
      break;
  }
  return writeDer(ldapMessage(req.messageId, body, req.controls));
}
