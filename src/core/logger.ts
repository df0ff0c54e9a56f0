import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * One structured logger for the process. Fields that could carry secrets are redacted here,
 * once, so that no protocol edge has to remember it: passwords, AUTH payloads and bodies.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream | 'async-stdout'): Logger {
  const options: LoggerOptions = {
    level,
    base: { app: 'postamt' },
    redact: {
      paths: ['password', 'pass', '*.password', '*.pass', 'secret', '*.secret', 'authorization', '*.authorization', 'body', '*.body'],
      censor: '[redacted]',
    },
  };
  if (destination === 'async-stdout') {
    // Servers log a line per transaction; synchronous writes to a pipe showed in the delivery
    // profile (docs/benchmarks.md). Buffered writes are flushed on exit (and by flush() at shutdown).
    const dest = pino.destination({ dest: 1, sync: false, minLength: 4096 });
    process.once('exit', () => dest.flushSync());
    return pino(options, dest);
  }
  return destination ? pino(options, destination as never) : pino(options);
}

/** A logger that writes nothing; for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
