export { MailRules, type MailRulesOptions, type DeliveredMessage } from './mail-rules.js';
export { Notices } from './notices.js';
export { tapHeader, type TappedHeader } from './header-tap.js';
export { checkOriginators, type OriginatorViolation } from './originator-check.js';
export { buildSuccessDsn } from './success-dsn.js';
export { buildAutoreply, noteActive, whyNoAutoreply } from './out-of-office.js';
