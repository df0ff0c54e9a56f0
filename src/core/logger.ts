import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * One structured logger for the process. Fields that could carry secrets are redacted here,
 * once, so that no protocol edge has to remember it: passwords, AUTH payloads and bodies.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { app: 'postamt' },
    redact: {
      paths: ['password', 'pass', '*.password', '*.pass', 'secret', '*.secret', 'authorization', '*.authorization', 'body', '*.body'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination as never) : pino(options);
}

/** A logger that writes nothing; for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
