import type { Logger } from '../../core/index.js';
import type { Accounts } from '../accounts.js';
import type { LocalDelivery } from '../delivery.js';
import type { FilingHandler } from '../recipient-handler.js';

/**
 * Messages the service writes itself (success DSNs, autoreplies), sent with the null sender
 * (RFC 3461 6.2, RFC 3834 3.3: nothing answers them) through the ordinary delivery: into the
 * recipient's mailbox when it is an account here, else into the relay queue for its provider.
 */
export class Notices {
  constructor(
    private readonly accounts: Accounts,
    private readonly delivery: LocalDelivery,
    private readonly hostname: string,
    private readonly logger: Logger,
    /** The relay's intake; absent: notices for other providers are only logged. */
    private readonly relay?: FilingHandler,
  ) {}

  /** Sends `bytes` to `to`; answers where it went. Throws what the delivery throws (a full mailbox). */
  async send(to: string, bytes: Buffer, what: string): Promise<'mailbox' | 'relay' | 'dropped'> {
    const { localDomain, account } = await this.accounts.recipient(to);
    const local = account !== undefined && !account.disabled;
    if (!local && (localDomain || !this.relay)) {
      this.logger.info({ to, what }, localDomain ? 'notice not sent: no such mailbox here' : 'notice not sent: no relay for other providers');
      return 'dropped';
    }
    await this.delivery.accept({
      mailFrom: '',
      accountIds: local ? [account!.id] : [],
      recipients: [to],
      trace: { heloName: this.hostname, clientHostname: 'localhost', clientAddress: '127.0.0.1', protocol: 'local' },
      body: (async function* () {
        yield bytes;
      })(),
      ...(local ? {} : { handled: [{ handler: this.relay!, recipients: [to.toLowerCase()] }] }),
    });
    return local ? 'mailbox' : 'relay';
  }
}
