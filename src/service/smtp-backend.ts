import type { SmtpBackend, SmtpEnvelope, SmtpSession } from '../smtp/index.js';
import { replies } from '../smtp/index.js';
import type { Accounts } from './accounts.js';
import { parseAddress } from './addresses.js';
import { LocalDelivery } from './delivery.js';
import { QuotaExceededError } from './mailboxes.js';

/**
 * The service's mail policy behind both SMTP listeners.
 * - 'mx': mail from other providers; only local recipients, never relays, no AUTH.
 * - 'submission': an account's own mail; AUTH required, the sender must be that account.
 * Relaying to other providers is not built yet: non-local recipients are refused with 5.7.1.
 */
export class ServiceSmtpBackend implements SmtpBackend {
  constructor(
    private readonly mode: 'mx' | 'submission',
    private readonly accounts: Accounts,
    private readonly delivery: LocalDelivery,
  ) {}

  async authenticate(username: string, password: string): Promise<string | null> {
    if (this.mode !== 'submission') return null;
    const account = await this.accounts.authenticate(username, password);
    return account ? account.address : null;
  }

  async checkSender(address: string, _env: SmtpEnvelope, session: SmtpSession): Promise<void> {
    if (this.mode === 'mx') {
      if (address !== '' && !parseAddress(address)) throw replies.badAddress(address);
      return;
    }
    if (!session.user) throw replies.authRequired();
    const parsed = parseAddress(address);
    if (!parsed || parsed.address !== session.user) throw replies.senderNotOwned(address);
  }

  async checkRecipient(address: string, env: SmtpEnvelope, _session: SmtpSession): Promise<void> {
    const parsed = parseAddress(address);
    if (!parsed) throw replies.badAddress(address);
    if (!(await this.accounts.isLocalDomain(parsed.domain))) throw replies.relayDenied(address);
    const account = await this.accounts.find(parsed.address);
    if (!account) throw replies.unknownUser(address);
    if (account.disabled) throw replies.disabled(address);
    if (account.quotaBytes > 0) {
      const incoming = env.declaredSize ?? 0;
      if (account.usedBytes >= account.quotaBytes || account.usedBytes + incoming > account.quotaBytes) throw replies.mailboxFull(address);
    }
  }

  async deliver(env: SmtpEnvelope, session: SmtpSession, body: AsyncIterable<Buffer>): Promise<string> {
    const ids: number[] = [];
    for (const rcpt of env.rcptTo) {
      // Checked at RCPT time; looked up again because the account may have gone since.
      const account = await this.accounts.find(rcpt);
      if (!account || account.disabled) throw replies.unknownUser(rcpt);
      ids.push(account.id);
    }
    try {
      const accepted = await this.delivery.accept({
        mailFrom: env.mailFrom,
        accountIds: ids,
        recipients: env.rcptTo,
        trace: {
          heloName: session.heloName,
          clientHostname: session.clientHostname,
          clientAddress: session.remoteAddress,
          protocol: session.protocol,
          tls: session.tls,
        },
        body,
      });
      return `Ok: queued as ${accepted.queueId}`;
    } catch (err) {
      if (err instanceof QuotaExceededError) throw replies.mailboxFull(err.address);
      throw err;
    }
  }
}
