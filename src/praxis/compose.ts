import MailComposer from 'nodemailer/lib/mail-composer';

/**
 * The message a practice writes, built as MIME for the client module: text/plain (KIM-Mail allows
 * no HTML, KIM PS guide "Anforderungen an Primärsysteme"), attachments as parts of
 * multipart/mixed, and the category in `X-KIM-Dienstkennung` (gemSpec_CM_KOMLE 3.6, A_19488-02;
 * KIM's default `KIM-Mail;Default;V1.0` when the practice picks none).
 */
export const DEFAULT_DIENSTKENNUNG = 'KIM-Mail;Default;V1.0';

export interface Draft {
  to: string[];
  cc: string[];
  subject: string;
  text: string;
  dienstkennung?: string;
  attachments: Array<{ filename: string; contentType: string; content: Buffer }>;
}

export interface ComposeLimits {
  maxAttachmentBytes: number;
  maxMessageBytes: number;
  maxAttachments: number;
  maxRecipients: number;
}

/** A refusal of the draft; `tooLarge` ones are HTTP 413 at the edge, the others 400. */
export class DraftError extends Error {
  constructor(
    message: string,
    readonly tooLarge = false,
  ) {
    super(message);
    this.name = 'DraftError';
  }
}

const ADDRESS = /^[^\s<>()[\]\\,;:"@]+@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;
/** Three fields (application; category; version) of printable ASCII without `;`, as gematik's list of Dienstkennungen has them. */
const DIENSTKENNUNG = /^[\x21-\x3a\x3c-\x7e]{1,64};[\x21-\x3a\x3c-\x7e]{1,64};[\x21-\x3a\x3c-\x7e]{1,32}$/;
const CONTENT_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/i;

/** Checks a draft against the limits; returns it with the Dienstkennung filled in. */
export function checkDraft(d: Draft, limits: ComposeLimits): Draft & { dienstkennung: string } {
  const recipients = [...d.to, ...d.cc];
  if (d.to.length === 0) throw new DraftError('to: at least one recipient');
  if (recipients.length > limits.maxRecipients) throw new DraftError(`at most ${limits.maxRecipients} recipients`);
  for (const a of recipients) if (typeof a !== 'string' || !ADDRESS.test(a)) throw new DraftError(`not a mail address: ${JSON.stringify(String(a).slice(0, 80))}`);
  if (/[\r\n]/.test(d.subject)) throw new DraftError('subject: no line breaks');
  if (d.subject.length > 998) throw new DraftError('subject: at most 998 characters');
  const dienstkennung = d.dienstkennung?.trim() || DEFAULT_DIENSTKENNUNG;
  if (!DIENSTKENNUNG.test(dienstkennung)) throw new DraftError('dienstkennung: three fields separated by ";", such as KIM-Mail;Default;V1.0');
  if (d.attachments.length > limits.maxAttachments) throw new DraftError(`at most ${limits.maxAttachments} attachments`);
  let total = Buffer.byteLength(d.text, 'utf8');
  for (const a of d.attachments) {
    if (!a.filename || /[\r\n\0/\\]/.test(a.filename) || a.filename.length > 255) throw new DraftError('attachment: a file name without path, line breaks or NUL, at most 255 characters');
    if (!CONTENT_TYPE.test(a.contentType)) throw new DraftError(`attachment ${a.filename}: not a content type: ${JSON.stringify(a.contentType.slice(0, 80))}`);
    if (a.content.length > limits.maxAttachmentBytes) throw new DraftError(`attachment ${a.filename}: ${a.content.length} bytes, at most ${limits.maxAttachmentBytes} allowed`, true);
    // base64 grows by a third.
    total += Math.ceil(a.content.length / 3) * 4;
  }
  if (total > limits.maxMessageBytes) throw new DraftError(`the message would be about ${total} bytes, at most ${limits.maxMessageBytes} allowed`, true);
  return { ...d, dienstkennung };
}

/** The MIME message (CRLF line ends) from a checked draft. */
export async function composeMessage(from: string, d: Draft & { dienstkennung: string }, maxMessageBytes: number): Promise<Buffer> {
  const mail = new MailComposer({
    from,
    to: d.to,
    ...(d.cc.length ? { cc: d.cc } : {}),
    subject: d.subject,
    text: d.text.replace(/\r?\n/g, '\r\n'),
    textEncoding: 'quoted-printable',
    headers: { 'X-KIM-Dienstkennung': d.dienstkennung },
    attachments: d.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content, contentTransferEncoding: 'base64' })),
  });
  const built = await mail.compile().build();
  // nodemailer writes the field name as X-Kim-Dienstkennung; it goes out as the specifications spell it.
  const headEnd = built.indexOf('\r\n\r\n');
  const head = built.subarray(0, headEnd).toString('latin1').replace(/^X-Kim-Dienstkennung:/im, 'X-KIM-Dienstkennung:');
  const raw = Buffer.concat([Buffer.from(head, 'latin1'), built.subarray(headEnd)]);
  if (raw.length > maxMessageBytes) throw new DraftError(`the message is ${raw.length} bytes, at most ${maxMessageBytes} allowed`, true);
  return raw;
}
