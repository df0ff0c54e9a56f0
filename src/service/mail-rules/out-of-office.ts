import { randomBytes } from 'node:crypto';
import { mime } from '../../wire/index.js';
import type { OutOfOffice } from '../account-manager/index.js';

/** Whether the note answers now: active, and `now` within its dates (a missing date bounds nothing). */
export function noteActive(note: OutOfOffice | null, now: number): boolean {
  if (!note || note.active !== true) return false;
  const start = note.startDate ? Date.parse(note.startDate) : -Infinity;
  const end = note.endDate ? Date.parse(note.endDate) : Infinity;
  return !Number.isNaN(start) && !Number.isNaN(end) && start <= now && now <= end;
}

/** Local parts that are machines, not people (RFC 3834 2: no automatic answers to them). */
const MACHINE_LOCAL = /^(mailer-daemon|postmaster|listserv|majordomo|noreply|no-reply|owner-.*|.*-request|.*-owner|bounces?(\+.*)?)$/i;

/**
 * RFC 3834's rules for an automatic answer to `mailFrom`'s message: never to the null sender
 * (a DSN, another autoreply), to a machine's address, to mail that is itself automatic
 * (Auto-Submitted other than "no", Precedence bulk/list/junk, mailing lists' List-* fields),
 * nor to the account itself. Returns why not, or null when it may be answered.
 */
export function whyNoAutoreply(mailFrom: string, account: string, fields: readonly mime.HeaderField[]): string | null {
  if (mailFrom === '') return 'null sender';
  const sender = mailFrom.toLowerCase();
  if (sender === account.toLowerCase()) return 'own address';
  if (MACHINE_LOCAL.test(sender.slice(0, sender.lastIndexOf('@')))) return 'machine address';
  const auto = mime.findField(fields, 'Auto-Submitted')?.value.split(';')[0]?.trim().toLowerCase();
  if (auto && auto !== 'no') return 'auto-submitted';
  const precedence = mime.findField(fields, 'Precedence')?.value.trim().toLowerCase();
  if (precedence && ['bulk', 'list', 'junk'].includes(precedence)) return 'bulk';
  if (fields.some((f) => f.key.startsWith('list-'))) return 'mailing list';
  return null;
}

export interface AutoreplyInput {
  /** The account the note belongs to: the answer's From. */
  account: string;
  /** The original's envelope sender: the answer's To (RFC 3834 4). */
  to: string;
  hostname: string;
  note: OutOfOffice;
  originalFields: readonly mime.HeaderField[];
  now?: Date;
}

/** RFC 2047 encoded-word for a header text that is not plain ASCII. */
function headerText(s: string): string {
  const one = s.replace(/[\r\n]+/g, ' ').slice(0, 200);
  return /^[\x20-\x7e]*$/.test(one) ? one : `=?utf-8?B?${Buffer.from(one, 'utf8').toString('base64')}?=`;
}

/**
 * The autoreply (RFC 3834): from the account, to the original's sender, Subject "Auto: " and the
 * original's, In-Reply-To/References to it, Auto-Submitted: auto-replied, the note's text as a
 * plain UTF-8 text part. Plain, not KOM-LE: the Fachdienst holds no practice's card to sign
 * with, and X-KIM-Dienstkennung says what it is (the client module shows it as unsigned mail).
 */
export function buildAutoreply(input: AutoreplyInput): Buffer {
  const now = input.now ?? new Date();
  const subject = mime.findField(input.originalFields, 'Subject')?.value;
  const messageId = mime.findField(input.originalFields, 'Message-ID')?.value;
  const refs = mime.findField(input.originalFields, 'References')?.value;
  const text = (input.note.message ?? '').replace(/\r?\n/g, '\r\n');
  const header = [
    mime.formatField('From', `<${input.account}>`),
    mime.formatField('To', `<${input.to}>`),
    mime.formatField('Subject', `Auto: ${headerText(subject ?? 'Abwesenheitsnotiz')}`),
    mime.formatField('Date', mime.formatRfc5322Date(now)),
    mime.formatField('Message-ID', `<auto.${randomBytes(12).toString('hex')}@${input.hostname}>`),
    ...(messageId ? [mime.formatField('In-Reply-To', messageId), mime.formatField('References', refs ? `${refs} ${messageId}` : messageId)] : []),
    mime.formatField('Auto-Submitted', 'auto-replied'),
    mime.formatField('X-KIM-Dienstkennung', 'KIM-Mail;Default;V1.0'),
    'MIME-Version: 1.0\r\n',
    mime.formatField('Content-Type', 'text/plain; charset=utf-8'),
  ].join('');
  const body = Buffer.from(text.endsWith('\r\n') ? text : `${text}\r\n`, 'utf8');
  // SMTP lines end at 1000 octets: a note with longer lines goes as base64.
  const long = text.split('\r\n').some((l) => Buffer.byteLength(l, 'utf8') > 900);
  return Buffer.concat([
    Buffer.from(header + mime.formatField('Content-Transfer-Encoding', long ? 'base64' : '8bit') + '\r\n', 'utf8'),
    long ? mime.encodeBase64Lines(body) : body,
  ]);
}
