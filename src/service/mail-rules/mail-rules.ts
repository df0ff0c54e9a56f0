import type { Kysely } from 'kysely';
import type { Database } from '../../store/index.js';
import { errorMessage, type Logger, type Metrics } from '../../core/index.js';
import { mime } from '../../wire/index.js';
import type { Accounts } from '../accounts.js';
import type { OutOfOffice } from '../account-manager/index.js';
import type { Notices } from './notices.js';
import type { TappedHeader } from './header-tap.js';
import { checkOriginators, type OriginatorViolation } from './originator-check.js';
import { buildSuccessDsn } from './success-dsn.js';
import { buildAutoreply, noteActive, whyNoAutoreply } from './out-of-office.js';

export interface MailRulesOptions {
  hostname: string;
  /** RFC 3461 NOTIFY=SUCCESS: a success DSN for local deliveries that asked for one. */
  successDsn: boolean;
  /** gemSpec_FD_KOMLE A_23422 on authenticated submission. */
  senderChecks: boolean;
  /** Domain endings Reply-To may name (besides the service's own domains). */
  replyToSuffixes: readonly string[];
  /** The out-of-office autoreply; `intervalMs`: one answer per sender and account in this time. */
  outOfOffice: { enabled: boolean; intervalMs: number };
  /** Unix ms; tests give their own clock. */
  now?: () => number;
}

/** One accepted message as the rules after delivery see it. */
export interface DeliveredMessage {
  queueId: string;
  mailFrom: string;
  receivedAt: number;
  /** The local accounts (addresses, lower case) that got it, without the journal. */
  delivered: readonly { id: number; address: string }[];
  /** RCPT's NOTIFY= per address in lower case. */
  notify: ReadonlyMap<string, readonly string[]> | undefined;
  header: TappedHeader;
}

/**
 * The KIM Fachdienst's mail rules around a delivery (docs/mail-service.md "Mail rules"):
 * before it, the originator checks of A_23422; after it, the success DSN of NOTIFY=SUCCESS and
 * the out-of-office autoreply. What runs after the delivery never fails it: the message is
 * accepted already, a notice that cannot go is logged and counted.
 */
export class MailRules {
  private readonly now: () => number;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly accounts: Accounts,
    private readonly notices: Notices,
    private readonly logger: Logger,
    private readonly opts: MailRulesOptions,
    private readonly metrics?: Metrics,
  ) {
    this.now = opts.now ?? Date.now;
    metrics?.declare('postamt_mail_rules_total', 'counter', 'mail rules applied, by rule and outcome');
  }

  get checksSenders(): boolean {
    return this.opts.senderChecks;
  }

  /** A_23422 for an account's submission: what breaks it, or null. */
  async originatorViolation(mailFrom: string, rcptTo: readonly string[], header: TappedHeader): Promise<OriginatorViolation | null> {
    if (!this.opts.senderChecks) return null;
    const replyTo = mime.findFields(header.fields, 'Reply-To').flatMap((f) => mime.addressesOf(mime.parseAddressList(f.value)));
    const localDomains = replyTo.length ? await this.accounts.localDomains(replyTo.map((a) => a.slice(a.lastIndexOf('@') + 1))) : new Set<string>();
    const v = checkOriginators({ mailFrom, rcptTo, fields: header.fields, replyToSuffixes: this.opts.replyToSuffixes, localDomains });
    if (v) this.count('sender_check', 'refused');
    return v;
  }

  async afterDelivery(m: DeliveredMessage): Promise<void> {
    await this.successDsn(m).catch((err: unknown) => this.failed('success_dsn', m, err));
    await this.autoreplies(m).catch((err: unknown) => this.failed('autoreply', m, err));
  }

  private failed(rule: string, m: DeliveredMessage, err: unknown): void {
    this.count(rule, 'error');
    this.logger.warn({ queueId: m.queueId, rule, err: errorMessage(err) }, 'mail rule could not send its notice');
  }

  private count(rule: string, outcome: string): void {
    this.metrics?.inc('postamt_mail_rules_total', { rule, outcome });
  }

  /** RFC 3461: never for the null sender; one DSN naming every recipient that asked for SUCCESS. */
  private async successDsn(m: DeliveredMessage): Promise<void> {
    if (!this.opts.successDsn || m.mailFrom === '' || !m.notify) return;
    const asked = m.delivered.filter((d) => m.notify!.get(d.address)?.includes('SUCCESS')).map((d) => d.address);
    if (asked.length === 0) return;
    const bytes = buildSuccessDsn({
      sender: m.mailFrom,
      reportingMta: this.opts.hostname,
      queueId: m.queueId,
      arrival: new Date(m.receivedAt),
      delivered: asked,
      originalHeader: m.header.bytes,
      originalFields: m.header.fields,
    });
    const where = await this.notices.send(m.mailFrom, bytes, 'success DSN');
    this.count('success_dsn', where);
    this.logger.info({ queueId: m.queueId, to: m.mailFrom, recipients: asked.length, where }, 'success DSN sent');
  }

  private async autoreplies(m: DeliveredMessage): Promise<void> {
    if (!this.opts.outOfOffice.enabled || m.delivered.length === 0 || m.mailFrom === '') return;
    const rows = await this.db
      .selectFrom('accounts')
      .select(['id', 'address', 'kim_out_of_office'])
      .where('id', 'in', m.delivered.map((d) => d.id))
      .where('kim_out_of_office', 'is not', null)
      .execute();
    const now = this.now();
    for (const r of rows) {
      const note = parseNote(r.kim_out_of_office);
      if (!note || !noteActive(note, now)) continue;
      const why = whyNoAutoreply(m.mailFrom, r.address, m.header.fields);
      if (why) {
        this.count('autoreply', 'skipped');
        this.logger.info({ queueId: m.queueId, account: r.address, why }, 'no autoreply');
        continue;
      }
      if (!(await this.claim(r.id, m.mailFrom.toLowerCase(), now))) {
        this.count('autoreply', 'repeated');
        continue;
      }
      const bytes = buildAutoreply({ account: r.address, to: m.mailFrom, hostname: this.opts.hostname, note, originalFields: m.header.fields, now: new Date(now) });
      const where = await this.notices.send(m.mailFrom, bytes, 'autoreply');
      this.count('autoreply', where);
      this.logger.info({ queueId: m.queueId, account: r.address, to: m.mailFrom, where }, 'autoreply sent');
    }
  }

  /**
   * Takes the right to answer `sender` now: true when the account has not answered it within
   * the interval. One statement, so two nodes delivering at once answer once.
   */
  private async claim(accountId: number, sender: string, now: number): Promise<boolean> {
    const cutoff = now - this.opts.outOfOffice.intervalMs;
    const r = await this.db
      .insertInto('kim_autoreplies')
      .values({ account_id: accountId, sender, sent_at: now })
      .onConflict((oc) => oc.columns(['account_id', 'sender']).doUpdateSet({ sent_at: now }).where('kim_autoreplies.sent_at', '<=', cutoff))
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }
}

function parseNote(json: string | null): OutOfOffice | null {
  if (!json) return null;
  try {
    return JSON.parse(json) as OutOfOffice;
  } catch {
    return null;
  }
}
