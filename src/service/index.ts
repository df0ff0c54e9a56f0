export { Accounts, type Account, type NewAccount, type AccountListener } from './accounts.js';
export { Mailboxes, uidOf, QuotaExceededError, type MailboxEntry } from './mailboxes.js';
export { LocalDelivery, newQueueId, type InboundMessage, type Accepted } from './delivery.js';
export { ServiceSmtpBackend } from './smtp-backend.js';
export { hashPassword, verifyPassword, generatePassword } from './passwords.js';
export { parseAddress, normalizeDomain } from './addresses.js';
