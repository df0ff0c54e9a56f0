import { writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { TlsMode } from '../core/index.js';

/** One network endpoint as scripts and tests need it. */
export interface Endpoint {
  host: string;
  port: number;
  tls: TlsMode;
}

/** Adds endpoints to a list of listeners (host and port) not holding them yet: the mail-in target policy's own listeners. */
export function addListeners(list: Array<{ host: string; port: number }>, endpoints: Record<string, Endpoint>): void {
  for (const e of Object.values(endpoints)) if (!list.some((l) => l.host === e.host && l.port === e.port)) list.push({ host: e.host, port: e.port });
}

export interface EndpointsFile {
  endpoints: Record<string, Endpoint>;
  accounts: Array<{ address: string; password: string }>;
  tls?: { fingerprint: string; certificate: string; origin: string };
  [extra: string]: unknown;
}

/** Writes data/endpoints.json atomically (0600: it holds demo passwords). */
export function writeEndpointsFile(dataDir: string, content: EndpointsFile): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, 'endpoints.json');
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(content, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
  return path;
}

/** The endpoints as an aligned text table for the terminal. */
export function formatEndpointTable(content: EndpointsFile): string {
  const rows = Object.entries(content.endpoints).map(([name, e]) => [name, `${e.host}:${e.port}`, e.tls]);
  const lines = [['endpoint', 'address', 'tls'], ...rows];
  const widths = [0, 1, 2].map((i) => Math.max(...lines.map((l) => l[i]!.length)));
  const fmt = (l: string[]) => l.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const out = [fmt(lines[0]!), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)];
  if (content.accounts.length) {
    out.push('', 'accounts:');
    for (const a of content.accounts) out.push(`  ${a.address}  password: ${a.password}`);
  }
  const integration = content.integration as { url: string; user: string; password: string } | undefined;
  if (integration) {
    out.push('', 'archive (MailStore "Application Integration"; POST cmd=list / cmd=auth, HTTP Basic):');
    out.push(`  ${integration.url}  user: ${integration.user}  password: ${integration.password}`);
  }
  const practices = (content.practices ?? []) as Array<{ address: string; password: string; smtpUser: string; pop3User: string }>;
  const cmSmtp = content.endpoints['cm-smtp'];
  const cmPop3 = content.endpoints['cm-pop3'];
  if (practices.length && cmSmtp && cmPop3) {
    out.push('', 'primary systems (through the client module; it signs/encrypts and decrypts/verifies):');
    for (const p of practices) {
      out.push(`  ${p.address}`);
      out.push(`    SMTP ${cmSmtp.host}:${cmSmtp.port}  user: ${p.smtpUser}`);
      out.push(`    POP3 ${cmPop3.host}:${cmPop3.port}  user: ${p.pop3User}`);
      out.push(`    password: ${p.password}`);
    }
  }
  const http = content.endpoints.http;
  if (http) out.push('', `admin console (sign in with adminToken from endpoints.json): ${http.tls === 'none' ? 'http' : 'https'}://${http.host}:${http.port}/console/`);
  const praxis = content.praxis as { url: string } | undefined;
  if (praxis) out.push('', `Praxis-Postfach (reference primary system, sign in with a practice's address and password): ${praxis.url}`);
  return out.join('\n');
}
