import { TAG, derBoolean, derNode, derPrimitive, derUint, derUtf8, encodedLength, writeDer, writeDerInto, type DerNode, type DerPart } from '../ber/index.js';
import { LDAP_OID, OP, type LdapControl, type PartialAttribute } from './protocol.js';

// Encoders for every response the server sends (RFC 4511 4.2 ff.). Each returns the DER tree of
// one LDAPMessage; `encodeMessages` writes any number of them into a single buffer, so a page of
// search results leaves in one socket write.

export interface LdapResultFields {
  /** Numeric resultCode (RFC 4511 Appendix A). */
  resultCode: number;
  matchedDn?: string;
  diagnosticMessage?: string;
}

const EMPTY_STRING = Uint8Array.of(TAG.octetString, 0);

function ldapString(value: string | undefined): DerPart {
  return value ? derUtf8(TAG.octetString, value) : EMPTY_STRING;
}

function resultParts(r: LdapResultFields): DerPart[] {
  return [derUint(TAG.enumerated, r.resultCode), ldapString(r.matchedDn), ldapString(r.diagnosticMessage)];
}

function controlsNode(controls: readonly LdapControl[] | undefined): DerPart[] {
  if (!controls || controls.length === 0) return [];
  return [
    derNode(
      TAG.contextConstructed(0),
      controls.map((c) => {
        const parts: DerPart[] = [derUtf8(TAG.octetString, c.type)];
        if (c.critical) parts.push(derBoolean(true));
        if (c.value) parts.push(derPrimitive(TAG.octetString, c.value));
        return derNode(TAG.sequence, parts);
      }),
    ),
  ];
}

/** An LDAPMessage envelope around a protocolOp. */
export function ldapMessage(messageId: number, protocolOp: DerPart, controls?: readonly LdapControl[]): DerNode {
  return derNode(TAG.sequence, [derUint(TAG.integer, messageId), protocolOp, ...controlsNode(controls)]);
}

/** Any response that is a bare LDAPResult: BindResponse, SearchResultDone, Modify/Add/Del/ModDN/CompareResponse. */
export function resultMessage(messageId: number, responseOp: number, result: LdapResultFields, controls?: readonly LdapControl[]): DerNode {
  return ldapMessage(messageId, derNode(TAG.applicationConstructed(responseOp), resultParts(result)), controls);
}

export function bindResponse(messageId: number, result: LdapResultFields): DerNode {
  return resultMessage(messageId, OP.bindResponse, result);
}

export function searchResultDone(messageId: number, result: LdapResultFields, controls?: readonly LdapControl[]): DerNode {
  return resultMessage(messageId, OP.searchResultDone, result, controls);
}

export function compareResponse(messageId: number, result: LdapResultFields): DerNode {
  return resultMessage(messageId, OP.compareResponse, result);
}

/** SearchResultEntry: the values are referenced, and copied once when the message is written. */
export function searchResultEntry(messageId: number, dn: string, attributes: readonly PartialAttribute[]): DerNode {
  return ldapMessage(messageId, searchResultEntryOp(dn, attributes));
}

/**
 * The protocolOp of a SearchResultEntry alone: it does not depend on the message ID, so a
 * server may build it once per entry and attribute selection and wrap it with ldapMessage.
 */
export function searchResultEntryOp(dn: string, attributes: readonly PartialAttribute[]): DerNode {
  const attrs: DerNode[] = new Array(attributes.length);
  for (let i = 0; i < attributes.length; i++) {
    const a = attributes[i]!;
    const vals: DerNode[] = new Array(a.values.length);
    for (let j = 0; j < a.values.length; j++) vals[j] = derPrimitive(TAG.octetString, a.values[j]!);
    attrs[i] = derNode(TAG.sequence, [derUtf8(TAG.octetString, a.type), derNode(TAG.set, vals)]);
  }
  return derNode(TAG.applicationConstructed(OP.searchResultEntry), [derUtf8(TAG.octetString, dn), derNode(TAG.sequence, attrs)]);
}

export interface ExtendedResponseFields extends LdapResultFields {
  responseName?: string;
  responseValue?: Buffer;
}

export function extendedResponse(messageId: number, r: ExtendedResponseFields): DerNode {
  const parts = resultParts(r);
  if (r.responseName !== undefined) parts.push(derUtf8(TAG.contextPrimitive(10), r.responseName));
  if (r.responseValue !== undefined) parts.push(derPrimitive(TAG.contextPrimitive(11), r.responseValue));
  return ldapMessage(messageId, derNode(TAG.applicationConstructed(OP.extendedResponse), parts));
}

/** The unsolicited Notice of Disconnection (RFC 4511 4.4.1): message ID 0, then the server closes. */
export function noticeOfDisconnection(resultCode: number, diagnosticMessage: string): DerNode {
  return extendedResponse(0, { resultCode, diagnosticMessage, responseName: LDAP_OID.noticeOfDisconnection });
}

/** One message as a buffer. */
export function encodeMessage(message: DerNode): Buffer {
  return writeDer(message);
}

/** Several messages back to back in one buffer (one socket write for a batch of entries). */
export function encodeMessages(messages: readonly DerNode[]): Buffer {
  let total = 0;
  for (const m of messages) total += encodedLength(m);
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const m of messages) offset = writeDerInto(out, offset, m);
  return out;
}
