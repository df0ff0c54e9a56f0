import type { TraceEvent } from '../api.js';

/** Headings of the timeline: what happened, in an operator's words. */
export const EVENT_TITLES: Record<string, string> = {
  accepted: 'Accepted',
  stored: 'Stored',
  delivered: 'Delivered',
  rejected: 'Rejected',
  'relay-attempt': 'Relay attempt',
  relayed: 'Relayed',
  bounced: 'Returned',
  'dsn-sent': 'DSN sent',
  fetched: 'Fetched',
  expunged: 'Deleted by POP3',
  'mailin-run': 'Mail-in agent run',
};

type D = Record<string, unknown>;
const s = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : []);
const bytes = (v: unknown): string => (typeof v === 'number' ? `${v.toLocaleString('en-GB')} bytes` : 'size unknown');

function tls(v: unknown): string {
  if (v && typeof v === 'object') {
    const t = v as D;
    return `TLS ${s(t.protocol)} ${s(t.cipher)}`.trim();
  }
  return typeof v === 'string' && v ? `TLS ${v}` : 'without TLS';
}

function refusals(v: unknown): string[] {
  return Array.isArray(v) ? v.map((r) => `refused ${s((r as D).recipient)}: ${s((r as D).code)} ${s((r as D).text)}`) : [];
}

/**
 * The lines shown under one event, from its detail (docs/trace.md lists the fields). Only
 * envelope facts: the trace holds no body and no Subject, so nothing here can be a plaintext.
 */
export function describeEvent(e: TraceEvent): string[] {
  const d = e.detail;
  switch (e.kind) {
    case 'accepted':
    case 'rejected':
      return [
        `from ${s(d.mailFrom) || '<>'} over ${s(d.listener)}, client ${s(d.clientIp) || 'unknown'}, ${tls(d.tls)}${d.authUser ? `, logged in as ${s(d.authUser)}` : ''}`,
        `to ${list(d.recipients).join(', ') || 'nobody'}${typeof d.size === 'number' ? `, ${bytes(d.size)}` : ''}`,
        ...refusals(d.refused),
      ];
    case 'stored':
      return [
        `${bytes(d.size)}, ${d.content === 'ciphertext' ? 'ciphertext only (KOM-LE: the service never sees the plaintext)' : 'message as received'}`,
        ...(list(d.mailboxes).length ? [`into ${list(d.mailboxes).length} mailbox(es)`] : []),
        ...(list(d.queuedForRelay).length ? [`queued for relaying: ${list(d.queuedForRelay).join(', ')}`] : []),
        ...(list(d.mailin).length ? [`to mail-in databases: ${list(d.mailin).join(', ')}`] : []),
      ];
    case 'delivered':
      return [`into the mailbox of ${s(d.mailbox)}`];
    case 'relay-attempt': {
      const peers = Array.isArray(d.peers) ? (d.peers as D[]).map((p) => `${s(p.host)}:${s(p.port)} (${s(p.tls) || 'no TLS'}) answered ${s(p.code)} in ${s(p.ms)} ms`) : [];
      const results = d.results && typeof d.results === 'object' ? Object.entries(d.results as Record<string, D>).map(([r, x]) => `${r}: ${s(x.result)} ${s(x.status)} ${s(x.reply)}`.trim()) : [];
      return [
        `attempt ${s(d.attempt)} for ${s(d.domain)}${peers.length ? '' : ', no peer reached'}`,
        ...peers,
        ...results,
        ...(d.nextRetry ? [`next attempt ${new Date(s(d.nextRetry)).toLocaleString('en-GB')}`] : []),
      ];
    }
    case 'relayed':
      return [`${list(d.recipients).join(', ')} at ${s(d.domain)}`];
    case 'bounced':
      return [`${list(d.recipients).join(', ')} at ${s(d.domain)}${d.by === 'administrator' ? ', returned to the sender by an administrator' : ''}`];
    case 'dsn-sent':
      return [`${s(d.action)} report to ${s(d.to)}`];
    case 'fetched':
    case 'expunged':
      return [`mailbox ${s(d.mailbox)}`];
    default:
      return Object.entries(d).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
}
