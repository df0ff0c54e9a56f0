import { simpleParser, type AddressObject } from 'mailparser';
import type { Logger } from '../core/index.js';
import { Pop3Client, Pop3ClientError } from '../pop3/client.js';
import { SmtpClient, SmtpClientError } from '../smtp/client.js';
import type { SmtpClientReply } from '../wire/smtp/index.js';
import type { TlsMode } from '../core/index.js';
import { checkDraft, composeMessage, DraftError, type ComposeLimits, type Draft } from './compose.js';
import { DirectorySearch, type DirectoryQuery, type DirectorySearchOptions } from './directory-search.js';
import { headerFields } from './headers.js';
import { kimResultOf, KIM_HEADERS, type KimResult } from './kim-results.js';

/**
 * The reference primary system's domain ("Praxis-Postfach", docs/praxis.md): what a practice
 * does — sign in, find a recipient, send, list, read, delete — done only through the client
 * module's SMTP and POP3 and the directory's LDAP, as any primary system does. Knows no HTTP.
 */

/** A practice as its primary system is configured: its address and the KIM user names built from it. */
export interface Practice {
  address: string;
  /** address#mta-host:port#Mandant#ClientSystem#Workplace (gemSpec_CM_KOMLE, docs/client-module.md). */
  smtpUser: string;
  pop3User: string;
}

export interface Endpoint {
  host: string;
  port: number;
  tls: TlsMode;
}

export interface PraxisOptions {
  practices: Practice[];
  clientModule: { smtp: Endpoint; pop3: Endpoint; ca?: string[]; timeoutMs: number };
  directory: DirectorySearchOptions;
  limits: ComposeLimits & { inboxPageSize: number; inboxCacheEntries: number };
  logger: Logger;
}

export type PraxisErrorKind = 'refused' | 'unavailable' | 'notFound' | 'badRequest' | 'tooLarge';

export class PraxisError extends Error {
  constructor(
    readonly kind: PraxisErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'PraxisError';
  }
}

export interface MessageSummary {
  uid: string;
  size: number;
  from: string;
  subject: string;
  date: string | null;
  dienstkennung: string | null;
  kim: KimResult;
}

export interface RecipientOutcome {
  address: string;
  accepted: boolean;
  code: number;
  text: string;
  /** An X-KIM-Fehlermeldung code the reply names (40xx, X01/X02), where it names one. */
  kimCode?: string;
}

export interface SendOutcome {
  ok: boolean;
  messageId: string | null;
  recipients: RecipientOutcome[];
  reply: { code: number; text: string };
}

export interface OpenedMessage extends MessageSummary {
  to: string[];
  cc: string[];
  messageId: string | null;
  /** The text as plain text (an HTML-only message converted to text; HTML is never passed on). */
  text: string;
  attachments: Array<{ n: number; filename: string; contentType: string; size: number }>;
}

export interface AttachmentContent {
  filename: string;
  contentType: string;
  content: Buffer;
}

/** What the POP3 side did, for tests and metrics: every command sent, and the TOPs among them. */
export interface Pop3Counters {
  commands: number;
  top: number;
  retr: number;
}

const addressList = (a: AddressObject | AddressObject[] | undefined): string[] => (a === undefined ? [] : (Array.isArray(a) ? a : [a]).flatMap((x) => x.value.map((v) => (v.name ? `${v.name} <${v.address ?? ''}>` : (v.address ?? '')))));
const replyText = (r: SmtpClientReply): string => r.lines.join(' ');
const kimCodeIn = (text: string): string | undefined => /\b(40[0-2]\d|X0[12])\b/.exec(text)?.[1];

export class Praxis {
  readonly pop3Counters: Pop3Counters = { commands: 0, top: 0, retr: 0 };
  private readonly byAddress = new Map<string, Practice>();
  private readonly inbox = new Map<string, Map<string, MessageSummary>>();
  private readonly directory: DirectorySearch;

  constructor(private readonly opts: PraxisOptions) {
    for (const p of opts.practices) this.byAddress.set(p.address.toLowerCase(), p);
    this.directory = new DirectorySearch(opts.directory);
  }

  /** The practice a sign-in name stands for (its KIM address, case-insensitive). */
  practice(user: string): Practice | undefined {
    return this.byAddress.get(user.trim().toLowerCase());
  }

  get pageSize(): number {
    return this.opts.limits.inboxPageSize;
  }

  /** Whether the client module accepts the practice's password: a POP3 login, as a primary system knows. */
  /**
   * Signs in at the client module's POP3. The same session lists the inbox: the client module
   * opened every new message at this login (it announces sizes after decryption) and still holds
   * them, so their headers come from it now; in a later session each TOP would make it fetch and
   * decrypt the message again (KOM-LE-A_2005: it keeps nothing across sessions), the PS keeps them.
   */
  async checkLogin(p: Practice, password: string): Promise<boolean> {
    try {
      await this.withPop3(p, password, (c) => this.summariesIn(c, p));
      return true;
    } catch (err) {
      if (err instanceof PraxisError && err.kind === 'refused') return false;
      throw err;
    }
  }

  search(query: DirectoryQuery): ReturnType<DirectorySearch['search']> {
    return this.directory.search(query).catch((err: unknown) => {
      if (err instanceof Error && err.name === 'DirectoryQueryError') throw new PraxisError('badRequest', err.message);
      this.opts.logger.warn({ err: (err as Error).message }, 'praxis: directory search failed');
      throw new PraxisError('unavailable', 'the directory cannot be reached');
    });
  }

  /** Builds the message and submits it through the client module's SMTP with the practice's credentials. */
  async send(p: Practice, password: string, draft: Draft): Promise<SendOutcome> {
    let checked;
    let raw: Buffer;
    try {
      checked = checkDraft(draft, this.opts.limits);
      raw = await composeMessage(p.address, checked, this.opts.limits.maxMessageBytes);
    } catch (err) {
      if (err instanceof DraftError) throw new PraxisError(err.tooLarge ? 'tooLarge' : 'badRequest', err.message);
      throw err;
    }
    const messageId = headerFields(raw).get('message-id')?.[0] ?? null;
    const recipients = [...new Set([...checked.to, ...checked.cc])];
    const cm = this.opts.clientModule;
    let client: SmtpClient;
    try {
      client = await SmtpClient.connect({ ...cm.smtp, ...(cm.ca?.length ? { ca: cm.ca } : {}), timeoutMs: cm.timeoutMs, clientName: 'praxis-postfach' });
    } catch (err) {
      throw new PraxisError('unavailable', `the client module's SMTP cannot be reached: ${(err as Error).message}`);
    }
    try {
      try {
        await client.login(p.smtpUser, password);
      } catch (err) {
        if (err instanceof SmtpClientError && err.reply) return this.refusedAll(recipients, messageId, err.reply);
        throw err;
      }
      try {
        const r = await client.send(p.address, recipients, raw);
        const text = replyText(r.reply);
        const outcome: RecipientOutcome[] = recipients.map((address) => {
          const refused = r.rejected.find((x) => x.address === address);
          if (refused) return { address, accepted: false, code: refused.reply.code, text: replyText(refused.reply), ...withCode(replyText(refused.reply)) };
          return { address, accepted: true, code: r.reply.code, text, ...withCode(text) };
        });
        return { ok: true, messageId, recipients: outcome, reply: { code: r.reply.code, text } };
      } catch (err) {
        if (err instanceof SmtpClientError && err.kind === 'rejected' && err.reply) {
          if (err.rejectedRecipients) {
            const per = recipients.map((address) => {
              const x = err.rejectedRecipients!.find((y) => y.address === address);
              const reply = x?.reply ?? err.reply!;
              return { address, accepted: false, code: reply.code, text: replyText(reply), ...withCode(replyText(reply)) };
            });
            return { ok: false, messageId, recipients: per, reply: { code: err.reply.code, text: replyText(err.reply) } };
          }
          return this.refusedAll(recipients, messageId, err.reply);
        }
        throw err;
      }
    } catch (err) {
      if (err instanceof PraxisError) throw err;
      throw new PraxisError('unavailable', `sending through the client module failed: ${(err as Error).message}`);
    } finally {
      await client.quit();
    }
  }

  private refusedAll(recipients: string[], messageId: string | null, reply: SmtpClientReply): SendOutcome {
    const text = replyText(reply);
    return { ok: false, messageId, recipients: recipients.map((address) => ({ address, accepted: false, code: reply.code, text, ...withCode(text) })), reply: { code: reply.code, text } };
  }

  /**
   * One page of the inbox, newest first: UIDL and LIST each time, TOP 0 only for messages not
   * seen before (their summaries are kept per practice by UIDL).
   */
  async listInbox(p: Practice, password: string, page = 1): Promise<{ total: number; page: number; pageSize: number; messages: MessageSummary[] }> {
    const size = this.opts.limits.inboxPageSize;
    const cache = this.cacheFor(p);
    const ordered = await this.withPop3(p, password, (c) => this.summariesIn(c, p));
    const total = ordered.length;
    const start = (Math.max(1, page) - 1) * size;
    const messages = ordered.slice(start, start + size).flatMap(({ uid }) => {
      const s = cache.get(uid);
      return s ? [s] : [];
    });
    return { total, page: Math.max(1, page), pageSize: size, messages };
  }

  /** In an open session: the summaries of messages not seen before (TOP 0), cached by UIDL; the UIDs newest first. */
  private async summariesIn(c: Pop3Client, p: Practice): Promise<Array<{ n: number; uid: string }>> {
    const cache = this.cacheFor(p);
    const uids = await this.count(() => c.uidl());
    const sizes = new Map((await this.count(() => c.list())).map((x) => [x.n, x.size]));
    const present = new Set(uids.map((u) => u.uid));
    for (const uid of cache.keys()) if (!present.has(uid)) cache.delete(uid);
    for (const { n, uid } of uids) {
      if (cache.has(uid)) continue;
      this.pop3Counters.top++;
      const head = await this.count(() => c.top(n, 0));
      const summary = await summarise(uid, sizes.get(n) ?? head.length, head);
      if (cache.size >= this.opts.limits.inboxCacheEntries) cache.delete(cache.keys().next().value!);
      cache.set(uid, summary);
    }
    return uids.slice().reverse();
  }

  /** The whole message (RETR): header, plain text, the list of attachments. */
  async openMessage(p: Practice, password: string, uid: string): Promise<OpenedMessage> {
    const raw = await this.retrieve(p, password, uid);
    this.lastOpened.set(p.address.toLowerCase(), { uid, raw });
    const parsed = await simpleParser(raw, { skipHtmlToText: false, skipTextToHtml: true, skipImageLinks: true });
    const summary = await summarise(uid, raw.length, raw, parsed);
    this.cacheFor(p).set(uid, summary);
    return {
      ...summary,
      to: addressList(parsed.to),
      cc: addressList(parsed.cc),
      messageId: parsed.messageId ?? null,
      text: parsed.text ?? '',
      attachments: parsed.attachments.map((a, n) => ({ n, filename: a.filename ?? `anhang-${n + 1}`, contentType: a.contentType, size: a.size })),
    };
  }

  async attachment(p: Practice, password: string, uid: string, n: number): Promise<AttachmentContent> {
    // The message being read: its attachments come from it, not from another RETR (which the
    // client module would answer by fetching and decrypting it again).
    const last = this.lastOpened.get(p.address.toLowerCase());
    const raw = last?.uid === uid ? last.raw : await this.retrieve(p, password, uid);
    const parsed = await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
    const a = parsed.attachments[n];
    if (!a) throw new PraxisError('notFound', `message ${uid} has no attachment ${n}`);
    return { filename: a.filename ?? `anhang-${n + 1}`, contentType: a.contentType, content: a.content };
  }

  /** DELE, passed on by the client module at QUIT. */
  async deleteMessage(p: Practice, password: string, uid: string): Promise<void> {
    await this.withPop3(p, password, async (c) => {
      const n = await this.numberOf(c, uid);
      await this.count(() => c.dele(n));
    });
    this.cacheFor(p).delete(uid);
    if (this.lastOpened.get(p.address.toLowerCase())?.uid === uid) this.lastOpened.delete(p.address.toLowerCase());
  }

  /** Per practice, the message opened last (one each: bounded by the practices and limits.maxMessageBytes). */
  private readonly lastOpened = new Map<string, { uid: string; raw: Buffer }>();

  private async retrieve(p: Practice, password: string, uid: string): Promise<Buffer> {
    return this.withPop3(p, password, async (c) => {
      const n = await this.numberOf(c, uid);
      this.pop3Counters.retr++;
      return this.count(() => c.retr(n));
    });
  }

  private async numberOf(c: Pop3Client, uid: string): Promise<number> {
    const hit = (await this.count(() => c.uidl())).find((u) => u.uid === uid);
    if (!hit) throw new PraxisError('notFound', `no message ${uid}`);
    return hit.n;
  }

  private cacheFor(p: Practice): Map<string, MessageSummary> {
    const key = p.address.toLowerCase();
    let c = this.inbox.get(key);
    if (!c) {
      c = new Map();
      this.inbox.set(key, c);
    }
    return c;
  }

  private count<T>(f: () => Promise<T>): Promise<T> {
    this.pop3Counters.commands++;
    return f();
  }

  /** One POP3 session at the client module: login, `work`, QUIT (which commits DELE marks). */
  private async withPop3<T>(p: Practice, password: string, work: (c: Pop3Client) => Promise<T>): Promise<T> {
    const cm = this.opts.clientModule;
    let c: Pop3Client;
    try {
      c = await Pop3Client.connect({ ...cm.pop3, ...(cm.ca?.length ? { ca: cm.ca } : {}), timeoutMs: cm.timeoutMs, maxResponseSize: this.opts.limits.maxMessageBytes * 2 });
    } catch (err) {
      throw new PraxisError('unavailable', `the client module's POP3 cannot be reached: ${(err as Error).message}`);
    }
    try {
      try {
        this.pop3Counters.commands += 2;
        await c.login(p.pop3User, password);
      } catch (err) {
        if (err instanceof Pop3ClientError && err.kind === 'rejected') {
          // [SYS/TEMP] and [IN-USE] are the client module's temporary answers: not a wrong password.
          if (/^\[(SYS\/TEMP|IN-USE)\]/.test(err.serverText ?? '')) throw new PraxisError('unavailable', `the client module cannot open the mailbox now: ${err.serverText}`);
          throw new PraxisError('refused', 'the client module refused the user name or password');
        }
        throw err;
      }
      const out = await work(c);
      this.pop3Counters.commands++;
      await c.quit();
      return out;
    } catch (err) {
      c.close();
      if (err instanceof PraxisError) throw err;
      throw new PraxisError('unavailable', `POP3 at the client module failed: ${(err as Error).message}`);
    }
  }
}

function withCode(text: string): { kimCode?: string } {
  const code = kimCodeIn(text);
  return code ? { kimCode: code } : {};
}

async function summarise(uid: string, size: number, raw: Buffer, parsed?: Awaited<ReturnType<typeof simpleParser>>): Promise<MessageSummary> {
  const fields = headerFields(raw);
  const p = parsed ?? (await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true }));
  const subject = p.subject ?? '';
  return {
    uid,
    size,
    from: addressList(p.from).join(', '),
    subject,
    date: p.date && !Number.isNaN(p.date.getTime()) ? p.date.toISOString() : null,
    dienstkennung: fields.get(KIM_HEADERS.dienstkennung)?.[0] ?? null,
    kim: kimResultOf(fields, subject),
  };
}
