import { BerError, CLASS, LDAP_BER, readBer } from '../ber/index.js';
import { enumerated, hasTag, octets, sequence, set, text, uint31 } from './ber-fields.js';
import { LdapDecodeError } from './errors.js';
import { OP, type LdapControl, type PartialAttribute } from './protocol.js';

// The client side of the codec: responses as a client reads them (tests, benchmark load generator).

export type LdapResponse =
  | { messageId: number; type: 'entry'; dn: string; attributes: PartialAttribute[]; controls: LdapControl[] }
  | { messageId: number; type: 'reference'; uris: string[]; controls: LdapControl[] }
  | {
      messageId: number;
      type: 'result';
      /** The response's [APPLICATION n] tag (OP.bindResponse, OP.searchResultDone, …). */
      op: number;
      resultCode: number;
      matchedDn: string;
      diagnosticMessage: string;
      responseName?: string;
      responseValue?: Buffer;
      controls: LdapControl[];
    };

export function decodeLdapResponse(frame: Uint8Array): LdapResponse {
  try {
    const items = sequence(readBer(frame, 'LDAPMessage', LDAP_BER), 'LDAPMessage');
    const messageId = uint31(items[0], 'messageID');
    const op = items[1];
    if (!op || op.tagClass !== CLASS.application) throw new BerError('malformed', 'protocolOp missing');
    const controls: LdapControl[] = items[2]
      ? sequence(items[2], 'controls', CLASS.context, 0).map((c) => {
          const [t, a, b] = sequence(c, 'Control');
          const control: LdapControl = { type: text(t, 'controlType'), critical: false };
          let v = a;
          if (hasTag(a, CLASS.universal, 1)) {
            control.critical = a.bytes[a.contentStart] !== 0;
            v = b;
          }
          if (v) control.value = octets(v, 'controlValue');
          return control;
        })
      : [];
    if (op.tagNumber === OP.searchResultEntry) {
      const [dn, attrs] = sequence(op, 'SearchResultEntry', CLASS.application, OP.searchResultEntry);
      const attributes = sequence(attrs, 'attributes').map((a) => {
        const [type, vals] = sequence(a, 'PartialAttribute');
        return { type: text(type, 'type'), values: set(vals, 'vals').map((v) => Buffer.from(octets(v, 'value'))) };
      });
      return { messageId, type: 'entry', dn: text(dn, 'objectName'), attributes, controls };
    }
    if (op.tagNumber === OP.searchResultReference) {
      return { messageId, type: 'reference', uris: sequence(op, 'SearchResultReference', CLASS.application, op.tagNumber).map((u) => text(u, 'uri')), controls };
    }
    const fields = sequence(op, 'LDAPResult', CLASS.application, op.tagNumber);
    const result: LdapResponse = {
      messageId,
      type: 'result',
      op: op.tagNumber,
      resultCode: enumerated(fields[0], 'resultCode'),
      matchedDn: text(fields[1], 'matchedDN'),
      diagnosticMessage: text(fields[2], 'diagnosticMessage'),
      controls,
    };
    for (const extra of fields.slice(3)) {
      if (hasTag(extra, CLASS.context, 10)) result.responseName = text(extra, 'responseName', CLASS.context, 10);
      if (hasTag(extra, CLASS.context, 11)) result.responseValue = Buffer.from(octets(extra, 'responseValue', CLASS.context, 11));
    }
    return result;
  } catch (err) {
    if (err instanceof BerError) throw new LdapDecodeError(err.message, true);
    throw err;
  }
}
