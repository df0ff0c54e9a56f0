import { isIPv4, isIPv6 } from 'node:net';

/**
 * The KOM-LE user name (gemSpec_CM_KOMLE, Tab_ILF_PS_Bildungsregel_SMTP-POP3_Benutzername):
 * a primary system that only speaks SMTP/POP3 carries everything the client module needs in
 * the login name, `#`-separated:
 *
 *   SMTP: address#mta-host:port#MandantId#ClientsystemId#WorkplaceId[#KonnektorId]
 *   POP3: address#mta-host:port#MandantId#ClientsystemId#WorkplaceId[#UserId][#KonnektorId]
 *
 * A skipped optional field followed by a used one is written `*`. The parser is pure so that
 * both protocol edges give the same precise answer for the same mistake.
 */
export type KimUserNameProtocol = 'smtp' | 'pop3';

/** The Konnektor call context: which card the client module uses for this practice. */
export interface KonnektorCallContext {
  mandantId: string;
  clientSystemId: string;
  workplaceId: string;
  /** Only when the doctor's card (HBA) is used; POP3 only. */
  userId?: string;
}

export interface KimUserName {
  /** The KIM address; the client module logs in upstream with it. */
  address: string;
  /** The MTA's host name or IP address (IPv6 without brackets). */
  host: string;
  port: number;
  context: KonnektorCallContext;
  konnektorId?: string;
}

export type KimUserNameField = 'address' | 'host' | 'port' | 'mandantId' | 'clientSystemId' | 'workplaceId' | 'userId' | 'konnektorId' | 'fields';

export class KimUserNameError extends Error {
  constructor(
    /** The field that is missing or malformed, for callers that map it to their own wording. */
    readonly field: KimUserNameField,
    message: string,
  ) {
    super(message);
    this.name = 'KimUserNameError';
  }
}

/** Longest user name accepted; the longest legitimate one is far below this. */
export const MAX_USER_NAME_LENGTH = 512;
const MAX_ID_LENGTH = 128;
const FORMS: Record<KimUserNameProtocol, string> = {
  smtp: 'address#mta-host:port#MandantId#ClientsystemId#WorkplaceId[#KonnektorId]',
  pop3: 'address#mta-host:port#MandantId#ClientsystemId#WorkplaceId[#UserId][#KonnektorId]',
};

export function kimUserNameForm(protocol: KimUserNameProtocol): string {
  return FORMS[protocol];
}

export function parseKimUserName(input: string, protocol: KimUserNameProtocol): KimUserName {
  const form = FORMS[protocol];
  if (input.length > MAX_USER_NAME_LENGTH) throw new KimUserNameError('fields', `user name is longer than ${MAX_USER_NAME_LENGTH} characters`);
  const fields = input.split('#');
  const maxFields = protocol === 'smtp' ? 6 : 7;
  if (fields.length < 2 || fields[1] === '') {
    throw new KimUserNameError('host', `user name must contain the MTA address and port after the KIM address: ${form}`);
  }
  if (fields.length < 5) {
    const missing = ['MandantId', 'ClientsystemId', 'WorkplaceId'].slice(fields.length - 2).join(', ');
    throw new KimUserNameError(fields.length === 2 ? 'mandantId' : fields.length === 3 ? 'clientSystemId' : 'workplaceId', `user name lacks ${missing}: ${form}`);
  }
  if (fields.length > maxFields) throw new KimUserNameError('fields', `user name has ${fields.length} #-separated fields, at most ${maxFields} are allowed: ${form}`);

  const address = parseAddress(fields[0]!);
  const { host, port } = parseHostPort(fields[1]!);
  const context: KonnektorCallContext = {
    mandantId: parseId(fields[2]!, 'mandantId', 'MandantId'),
    clientSystemId: parseId(fields[3]!, 'clientSystemId', 'ClientsystemId'),
    workplaceId: parseId(fields[4]!, 'workplaceId', 'WorkplaceId'),
  };
  const result: KimUserName = { address, host, port, context };
  // SMTP: the sixth field is the KonnektorId. POP3: the sixth is the UserId, the seventh the KonnektorId.
  const optional = fields.slice(5);
  const names: Array<['userId' | 'konnektorId', string]> = protocol === 'smtp' ? [['konnektorId', 'KonnektorId']] : [['userId', 'UserId'], ['konnektorId', 'KonnektorId']];
  optional.forEach((value, i) => {
    const [field, label] = names[i]!;
    if (value === '*') return;
    const id = parseId(value, field, label);
    if (field === 'userId') context.userId = id;
    else result.konnektorId = id;
  });
  return result;
}

/** The canonical form, with `*` for a skipped UserId before a KonnektorId. */
export function formatKimUserName(u: KimUserName, protocol: KimUserNameProtocol): string {
  const host = u.host.includes(':') ? `[${u.host}]` : u.host;
  const parts = [u.address, `${host}:${u.port}`, u.context.mandantId, u.context.clientSystemId, u.context.workplaceId];
  if (protocol === 'pop3') {
    if (u.context.userId !== undefined || u.konnektorId !== undefined) parts.push(u.context.userId ?? '*');
  }
  if (u.konnektorId !== undefined) parts.push(u.konnektorId);
  return parts.join('#');
}

function parseAddress(raw: string): string {
  if (raw === '') throw new KimUserNameError('address', 'user name must start with the KIM address');
  const at = raw.lastIndexOf('@');
  if (at <= 0 || at === raw.length - 1) throw new KimUserNameError('address', `"${printable(raw)}" is not a mail address (local@domain)`);
  if (/[\s\x00-\x1f\x7f<>(),;:\\"[\]]/.test(raw)) throw new KimUserNameError('address', `the KIM address "${printable(raw)}" contains characters not allowed in an address`);
  const domain = raw.slice(at + 1);
  if (!isHostName(domain)) throw new KimUserNameError('address', `the KIM address has an invalid domain "${printable(domain)}"`);
  return raw;
}

function parseHostPort(raw: string): { host: string; port: number } {
  let host: string;
  let portText: string;
  if (raw.startsWith('[')) {
    const close = raw.indexOf(']');
    if (close < 0) throw new KimUserNameError('host', `the MTA address "${printable(raw)}" opens [ for an IPv6 address but does not close it`);
    host = raw.slice(1, close);
    if (!isIPv6(host)) throw new KimUserNameError('host', `"${printable(host)}" in brackets is not an IPv6 address`);
    const rest = raw.slice(close + 1);
    if (!rest.startsWith(':')) throw new KimUserNameError('port', `the MTA address "${printable(raw)}" must be followed by :port`);
    portText = rest.slice(1);
  } else {
    const colon = raw.lastIndexOf(':');
    if (colon < 0) throw new KimUserNameError('port', `the MTA address "${printable(raw)}" must include the port (host:port)`);
    host = raw.slice(0, colon);
    portText = raw.slice(colon + 1);
    if (host.includes(':')) throw new KimUserNameError('host', `an IPv6 MTA address must be written in brackets, e.g. [2001:db8::1]:465`);
    if (host === '') throw new KimUserNameError('host', 'the MTA host name is missing before :port');
    if (!isIPv4(host) && !isHostName(host)) throw new KimUserNameError('host', `"${printable(host)}" is not a valid MTA host name`);
  }
  if (!/^[0-9]{1,5}$/.test(portText)) throw new KimUserNameError('port', `the MTA port "${printable(portText)}" is not a number`);
  const port = Number(portText);
  if (port < 1 || port > 65535) throw new KimUserNameError('port', `the MTA port ${port} is out of range 1-65535`);
  return { host: host.toLowerCase(), port };
}

function parseId(raw: string, field: KimUserNameField, label: string): string {
  if (raw === '' || raw === '*') throw new KimUserNameError(field, `${label} is missing`);
  if (raw.length > MAX_ID_LENGTH) throw new KimUserNameError(field, `${label} is longer than ${MAX_ID_LENGTH} characters`);
  // Konnektor identifiers are XML tokens in the SOAP context; whitespace and controls never are.
  if (/[\s\x00-\x1f\x7f]/.test(raw)) throw new KimUserNameError(field, `${label} "${printable(raw)}" contains white space or control characters`);
  return raw;
}

function isHostName(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  return s.split('.').every((label) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label));
}

/** For error texts: never echo control characters back into a protocol line. */
function printable(s: string): string {
  const clean = s.replace(/[\x00-\x1f\x7f]/g, '?');
  return clean.length > 80 ? clean.slice(0, 77) + '...' : clean;
}
