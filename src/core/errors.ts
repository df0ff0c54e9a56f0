/**
 * Errors the domain raises on purpose. Protocol edges turn them into protocol answers
 * (SMTP enhanced codes, POP3 -ERR, HTTP problem JSON); anything else is a bug and is logged.
 */
export class PostamtError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'PostamtError';
  }
}

/** Bad input from an administrator (CLI, config, admin API). */
export class UsageError extends PostamtError {
  constructor(message: string) {
    super('usage', message);
    this.name = 'UsageError';
  }
}

export class NotFoundError extends PostamtError {
  constructor(message: string) {
    super('not-found', message);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends PostamtError {
  constructor(message: string) {
    super('conflict', message);
    this.name = 'ConflictError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
