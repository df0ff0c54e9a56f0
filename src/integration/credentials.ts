import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** The configured endpoint password, or the one generated into dataDir/integration-password (0600) at first start. */
export function resolveIntegrationPassword(configured: string | undefined, dataDir: string): string {
  if (configured) return configured;
  const path = join(dataDir, 'integration-password');
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const password = randomBytes(18).toString('base64url');
  writeFileSync(path, password + '\n', { mode: 0o600 });
  return password;
}
