import { formatRfc5322Date } from '../mime/index.js';

/**
 * The trace fields a receiving MTA prepends (RFC 5321 section 4.4): Return-Path with the
 * envelope sender, and Received naming the client, us, the protocol (RFC 3848) and an id.
 */
export interface ReceivedInfo {
  heloName: string;
  clientHostname?: string;
  clientAddress: string;
  byHostname: string;
  /** SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA (RFC 3848). */
  protocol: string;
  id: string;
  /** Named only for single-recipient messages, so recipients don't learn of each other. */
  recipient?: string;
  tls?: { protocol: string; cipher: string };
  date: Date;
}

/** Strips what must not reach a header: CR, LF, other controls, and over-long runs. */
function clean(s: string, max = 255): string {
  return s.replace(/[\x00-\x1f\x7f()<>;]/g, '').slice(0, max);
}

export function formatReceived(r: ReceivedInfo): string {
  const client = r.clientHostname && r.clientHostname !== `[${r.clientAddress}]` ? `${clean(r.clientHostname)} ` : '';
  const ip = r.clientAddress.includes(':') ? `IPv6:${r.clientAddress}` : r.clientAddress;
  let out = `Received: from ${clean(r.heloName) || 'unknown'} (${client}[${clean(ip)}])\r\n\tby ${clean(r.byHostname)} (Postamt) with ${clean(r.protocol)}`;
  if (r.tls) out += ` (${clean(r.tls.protocol)} ${clean(r.tls.cipher)})`;
  out += ` id ${clean(r.id)}`;
  if (r.recipient) out += `\r\n\tfor <${clean(r.recipient, 320)}>`;
  return `${out};\r\n\t${formatRfc5322Date(r.date)}\r\n`;
}

export function formatReturnPath(sender: string): string {
  return `Return-Path: <${clean(sender, 320)}>\r\n`;
}

/**
 * The message without a leading Return-Path field: it names the envelope sender for the final
 * mailbox only, and a relaying MTA must not pass it on (RFC 5321 4.4). No copy: a view.
 */
export function withoutReturnPath(message: Uint8Array): Uint8Array {
  const prefix = 'return-path:';
  for (let i = 0; i < prefix.length; i++) {
    const c = message[i];
    if (c === undefined) return message;
    // ASCII case folding for letters only: `| 0x20` on anything else would take CR for '-'.
    if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== prefix.charCodeAt(i)) return message;
  }
  // The field ends at the first CRLF not followed by folding white space.
  for (let i = prefix.length; i + 1 < message.length; i++) {
    if (message[i] === 0x0d && message[i + 1] === 0x0a && message[i + 2] !== 0x20 && message[i + 2] !== 0x09) return message.subarray(i + 2);
  }
  return message;
}
