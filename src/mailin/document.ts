import { createHash } from 'node:crypto';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import type { DocumentPayload } from './types.js';

/** The parsed form of one message, as the documents table keeps it and agents receive it. */
export interface ParsedDocument {
  headers: Record<string, string[]>;
  subject: string;
  from: string;
  to: string[];
  cc: string[];
  date: number | null;
  messageId: string;
  kim: Record<string, string>;
  text: string;
  html: string | null;
  attachments: Array<{ name: string; type: string; size: number; sha256: string; content: Buffer }>;
}

function addresses(a: AddressObject | AddressObject[] | undefined): string[] {
  const list = a === undefined ? [] : Array.isArray(a) ? a : [a];
  return list.flatMap((o) => o.value.map((v) => v.address ?? '').filter(Boolean));
}

/** Unfolded header values by lower-case name, in message order, from the raw lines. */
function headerMap(parsed: ParsedMail): { headers: Record<string, string[]>; kim: Record<string, string> } {
  const headers: Record<string, string[]> = {};
  const kim: Record<string, string> = {};
  for (const { key, line } of parsed.headerLines) {
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : key;
    const value = (colon > 0 ? line.slice(colon + 1) : '').replace(/\r?\n[ \t]+/g, ' ').trim();
    (headers[key] ??= []).push(value);
    // KIM's own fields (X-KIM-Dienstkennung, X-KIM-Sendersystem, …).
    // Canonical prefix, the rest as spelled (mailers differ in how they case header names).
    if (key.startsWith('x-kim-')) kim[`X-KIM-${name.slice(6)}`] = value;
  }
  return { headers, kim };
}

/** The parsed fields of a message nothing could be read from (the raw message is still kept). */
export function emptyDocument(): ParsedDocument {
  return { headers: {}, subject: '', from: '', to: [], cc: [], date: null, messageId: '', kim: {}, text: '', html: null, attachments: [] };
}

/**
 * Parses a message with mailparser. Hostile input cannot throw out of here: a message
 * mailparser cannot make sense of is still a document, with empty parsed fields.
 */
export async function parseDocument(raw: Buffer): Promise<ParsedDocument> {
  let parsed: ParsedMail;
  try {
    parsed = await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true, skipImageLinks: true });
  } catch {
    return emptyDocument();
  }
  const { headers, kim } = headerMap(parsed);
  const date = parsed.date && !Number.isNaN(parsed.date.getTime()) ? parsed.date.getTime() : null;
  return {
    headers,
    subject: parsed.subject ?? '',
    from: addresses(parsed.from)[0] ?? '',
    to: addresses(parsed.to),
    cc: addresses(parsed.cc),
    date,
    messageId: parsed.messageId ?? '',
    kim,
    text: parsed.text ?? '',
    html: typeof parsed.html === 'string' ? parsed.html : null,
    attachments: parsed.attachments.map((a) => ({
      name: a.filename ?? '',
      type: a.contentType,
      size: a.content.length,
      sha256: createHash('sha256').update(a.content).digest('hex'),
      content: a.content,
    })),
  };
}

export interface PayloadContext {
  uid: string;
  database: string;
  mailFrom: string;
  rcptTo: string[];
  queueId: string;
  receivedAt: number;
  raw: Buffer;
  /** Attachments up to this size carry their content (base64). */
  inlineMaxBytes: number;
  /** Include the raw MIME (base64) when the message is at most this size; -1: never. */
  rawMaxBytes: number;
}

/** The JSON agents get (docs/mailin.md has the field list). */
export function toPayload(doc: ParsedDocument, ctx: PayloadContext): DocumentPayload {
  const payload: DocumentPayload = {
    id: ctx.uid,
    database: ctx.database,
    envelope: { mailFrom: ctx.mailFrom, rcptTo: ctx.rcptTo, queueId: ctx.queueId, receivedAt: new Date(ctx.receivedAt).toISOString() },
    headers: doc.headers,
    subject: doc.subject,
    from: doc.from,
    to: doc.to,
    cc: doc.cc,
    date: doc.date === null ? null : new Date(doc.date).toISOString(),
    messageId: doc.messageId,
    kim: doc.kim,
    text: doc.text,
    html: doc.html,
    attachments: doc.attachments.map((a) => ({
      name: a.name,
      type: a.type,
      size: a.size,
      sha256: a.sha256,
      ...(a.size <= ctx.inlineMaxBytes ? { content: a.content.toString('base64') } : {}),
    })),
  };
  if (ctx.rawMaxBytes >= 0 && ctx.raw.length <= ctx.rawMaxBytes) payload.raw = ctx.raw.toString('base64');
  return payload;
}
