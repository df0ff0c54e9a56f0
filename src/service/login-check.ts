import type { Account } from './accounts.js';

/**
 * How the service's SMTP AUTH and POP3 logins are checked: by default the account's own
 * password (Accounts implements this), or against a user source of the Application
 * Integration (integration/login-check.ts), so a practice need not keep passwords twice.
 * Either way the answer is a local account or null; it throws when the check cannot be made.
 */
export interface LoginCheck {
  authenticate(address: string, password: string): Promise<Account | null>;
}
