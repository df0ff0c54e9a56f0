import { openTestStore, testTls, type StoreKind, type TestStore } from './env.js';
import { silentLogger, Metrics, LoginThrottle } from '../../src/core/index.js';
import { Accounts, LoginCache, Mailboxes, LocalDelivery, ServiceSmtpBackend, MailRules, Notices, type MailRulesOptions } from '../../src/service/index.js';
import { SmtpListener, type SmtpListenerOptions } from '../../src/smtp/index.js';

export const PASSWORD = 'correct horse battery';

export interface SmtpFixture {
  ts: TestStore;
  accounts: Accounts;
  mailboxes: Mailboxes;
  metrics: Metrics;
  mx: SmtpListener;
  submission: SmtpListener;
  close(): Promise<void>;
}

/**
 * The service's two SMTP listeners over a real store, with domain example.test and two accounts;
 * `listeners` overrides options of both (the listen host, a greeting delay).
 */
export async function startSmtpFixture(
  kind: StoreKind = 'sqlite',
  raw: Record<string, unknown> = {},
  listeners: Partial<Pick<SmtpListenerOptions, 'host' | 'greetingDelay'>> = {},
  /** The KIM mail rules on both listeners, with these options over every rule on. */
  rules?: Partial<MailRulesOptions>,
): Promise<SmtpFixture | null> {
  const ts = await openTestStore(kind, raw);
  if (!ts) return null;
  const { store, config } = ts;
  const metrics = new Metrics();
  // The login cache as the service has it (service.loginCache), so SMTP AUTH behaves as there.
  const accounts = new Accounts(store.db, store.blobs, new LoginCache(config.service.loginCache, metrics));
  const mailboxes = new Mailboxes(store.db, store.blobs);
  await accounts.addDomain('example.test');
  await accounts.add({ address: 'alice@example.test', password: PASSWORD, displayName: 'Alice' });
  await accounts.add({ address: 'bob@example.test', password: PASSWORD, displayName: 'Bob', quotaBytes: 20_000 });
  const logger = silentLogger();
  const delivery = new LocalDelivery(store.blobs, mailboxes, config.service.hostname, logger);
  const tls = await testTls();
  const throttle = new LoginThrottle(config.service.loginThrottle);
  const common = { host: '127.0.0.1', port: 0, tls, hostname: config.service.hostname, limits: config.service.smtp, logger, metrics, throttle, ...listeners };
  const mailRules = rules
    ? new MailRules(store.db, accounts, new Notices(accounts, delivery, config.service.hostname, logger), logger, {
        hostname: config.service.hostname,
        successDsn: true,
        senderChecks: true,
        replyToSuffixes: ['.kim.telematik', '.kim.telematik-test'],
        outOfOffice: { enabled: true, intervalMs: 7 * 86_400_000 },
        ...rules,
      }, metrics)
    : undefined;
  const opts = mailRules ? { rules: mailRules } : {};
  const mx = new SmtpListener({ ...common, name: 'smtp-mx', tlsMode: 'starttls', auth: false, requireAuth: false, backend: new ServiceSmtpBackend('mx', accounts, delivery, opts) });
  const submission = new SmtpListener({ ...common, name: 'smtp-submission', tlsMode: 'implicit', auth: true, requireAuth: true, backend: new ServiceSmtpBackend('submission', accounts, delivery, opts) });
  await mx.listen();
  await submission.listen();
  return {
    ts,
    accounts,
    mailboxes,
    metrics,
    mx,
    submission,
    close: async () => {
      await mx.close(1000);
      await submission.close(1000);
      await ts.close();
    },
  };
}

/** The messages in an account's mailbox, oldest first. */
export async function mailbox(f: SmtpFixture, address: string): Promise<Buffer[]> {
  const acc = await f.accounts.get(address);
  const entries = await f.mailboxes.list(acc.id);
  return Promise.all(entries.map((e) => f.mailboxes.read(e)));
}
