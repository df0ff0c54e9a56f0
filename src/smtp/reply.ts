/**
 * An SMTP answer chosen on purpose: code, enhanced status code (RFC 3463) and text. Backends
 * throw these; the edge sends them verbatim.
 */
export class SmtpReply extends Error {
  constructor(
    readonly code: number,
    readonly enhanced: string,
    readonly text: string,
  ) {
    super(`${enhanced} ${text}`);
    this.name = 'SmtpReply';
  }

  /** The Error shape smtp-server expects from its callbacks. */
  toServerError(): Error & { responseCode: number } {
    return Object.assign(new Error(`${this.enhanced} ${this.text}`), { responseCode: this.code });
  }
}

export const replies = {
  unknownUser: (addr: string) => new SmtpReply(550, '5.1.1', `<${addr}>: no such user here`),
  badAddress: (addr: string) => new SmtpReply(553, '5.1.3', `<${addr}>: not a valid mail address`),
  relayDenied: (addr: string) => new SmtpReply(554, '5.7.1', `<${addr}>: relay access denied`),
  mailboxFull: (addr: string) => new SmtpReply(552, '5.2.2', `<${addr}>: mailbox is full`),
  tooLarge: (limit: number) => new SmtpReply(552, '5.3.4', `Message too large: the limit is ${limit} bytes`),
  authRequired: () => new SmtpReply(530, '5.7.0', 'Authentication required'),
  badCredentials: () => new SmtpReply(535, '5.7.8', 'Authentication credentials invalid'),
  loginPenalised: () => new SmtpReply(454, '4.7.0', 'Too many failed logins from your address, try again later'),
  loginsBusy: () => new SmtpReply(454, '4.7.0', 'Too many logins at once, try again later'),
  tooManyAuthFailures: () => new SmtpReply(421, '4.7.0', 'Too many failed authentication attempts, closing connection'),
  senderNotOwned: (addr: string) => new SmtpReply(553, '5.7.1', `<${addr}>: sender address not owned by the authenticated user`),
  disabled: (addr: string) => new SmtpReply(550, '5.2.1', `<${addr}>: mailbox disabled`),
  temporary: (why = 'Local error in processing, try again later') => new SmtpReply(451, '4.3.0', why),
} as const;
