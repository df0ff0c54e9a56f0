import { UsageError } from '../core/index.js';

/**
 * The one password rule of the service's accounts: what Accounts enforces, and what
 * I_ServiceInformation announces (passwordPolicyRegEx/-Display), so a client module's
 * Administrationsmodul can check a password before it sends it. Lengths count UTF-16 code
 * units, as Java's regex does too (the document asks for a "java compatible" expression).
 */
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 1024;

/** `[\s\S]`, not `.`: a line break is an ordinary character of a password here, and `.` does not match one in Java. */
export const PASSWORD_POLICY_REGEX = `^[\\s\\S]{${PASSWORD_MIN_LENGTH},${PASSWORD_MAX_LENGTH}}$`;

export const PASSWORD_POLICY_DISPLAY = `Mindestens ${PASSWORD_MIN_LENGTH}, höchstens ${PASSWORD_MAX_LENGTH} Zeichen. / At least ${PASSWORD_MIN_LENGTH}, at most ${PASSWORD_MAX_LENGTH} characters.`;

/** Throws a UsageError naming the rule when `password` breaks it. */
export function checkPasswordPolicy(password: string): void {
  if (!password || password.length < PASSWORD_MIN_LENGTH) throw new UsageError(`the password must have at least ${PASSWORD_MIN_LENGTH} characters`);
  if (password.length > PASSWORD_MAX_LENGTH) throw new UsageError(`the password must have at most ${PASSWORD_MAX_LENGTH} characters`);
}
