import { createRequire } from 'node:module';

let version: string | undefined;

/** Postamt's version, from package.json (dist/src/core/ is three levels below it); '0' when it cannot be read. */
export function postamtVersion(): string {
  if (version === undefined) {
    try {
      version = String((createRequire(import.meta.url)('../../../package.json') as { version: unknown }).version);
    } catch {
      version = '0';
    }
  }
  return version;
}
