import type { LdapFilter } from './filter-ast.js';

/** Protocol operation tags, [APPLICATION n] of RFC 4511 4.2 ff. */
export const OP = {
  bindRequest: 0,
  bindResponse: 1,
  unbindRequest: 2,
  searchRequest: 3,
  searchResultEntry: 4,
  searchResultDone: 5,
  modifyRequest: 6,
  modifyResponse: 7,
  addRequest: 8,
  addResponse: 9,
  delRequest: 10,
  delResponse: 11,
  modDNRequest: 12,
  modDNResponse: 13,
  compareRequest: 14,
  compareResponse: 15,
  abandonRequest: 16,
  searchResultReference: 19,
  extendedRequest: 23,
  extendedResponse: 24,
  intermediateResponse: 25,
} as const;

export const LDAP_OID = {
  startTls: '1.3.6.1.4.1.1466.20037',
  noticeOfDisconnection: '1.3.6.1.4.1.1466.20036',
  whoAmI: '1.3.6.1.4.1.4203.1.11.3',
  pagedResults: '1.2.840.113556.1.4.319',
} as const;

export interface LdapControl {
  type: string;
  critical: boolean;
  value?: Buffer;
}

export type BindAuthentication =
  | { method: 'simple'; password: Buffer }
  | { method: 'sasl'; mechanism: string; credentials?: Buffer };

export interface PartialAttribute {
  type: string;
  values: Buffer[];
}

export type LdapOperation =
  | { type: 'bind'; version: number; name: string; auth: BindAuthentication }
  | { type: 'unbind' }
  | {
      type: 'search';
      baseObject: string;
      scope: 'base' | 'one' | 'sub';
      derefAliases: number;
      sizeLimit: number;
      timeLimit: number;
      typesOnly: boolean;
      filter: LdapFilter;
      attributes: string[];
    }
  | { type: 'modify'; object: string; changes: Array<{ operation: 'add' | 'delete' | 'replace' | 'increment'; modification: PartialAttribute }> }
  | { type: 'add'; entry: string; attributes: PartialAttribute[] }
  | { type: 'delete'; entry: string }
  | { type: 'modifyDn'; entry: string; newRdn: string; deleteOldRdn: boolean; newSuperior?: string }
  | { type: 'compare'; entry: string; attribute: string; value: Buffer }
  | { type: 'abandon'; messageId: number }
  | { type: 'extended'; name: string; value?: Buffer };

export type LdapOperationType = LdapOperation['type'];

/** One decoded client request (an LDAPMessage whose protocolOp is a request). */
export interface LdapRequest {
  messageId: number;
  op: LdapOperation;
  controls: LdapControl[];
}

/** The response operation answering each request type (none for unbind and abandon). */
export const RESPONSE_OP: Record<LdapOperationType, number | undefined> = {
  bind: OP.bindResponse,
  unbind: undefined,
  search: OP.searchResultDone,
  modify: OP.modifyResponse,
  add: OP.addResponse,
  delete: OP.delResponse,
  modifyDn: OP.modDNResponse,
  compare: OP.compareResponse,
  abandon: undefined,
  extended: OP.extendedResponse,
};
