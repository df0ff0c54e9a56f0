import { readFileSync, existsSync } from 'node:fs';
import { resolve, isAbsolute, dirname } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';
import { UsageError } from '../core/index.js';
import { moveRenamedKeys } from './renamed.js';

/** Environment variables that override config keys; the place for secrets. */
export const ENV_OVERRIDES: ReadonlyArray<{ env: string; path: string[]; describe: string }> = [
  { env: 'POSTAMT_DATA_DIR', path: ['dataDir'], describe: 'data directory' },
  { env: 'POSTAMT_DATABASE_URL', path: ['database', 'url'], describe: 'database URL (may carry a password)' },
  { env: 'POSTAMT_SECRET_KEY', path: ['database', 'secretKey'], describe: 'key that seals the secrets stored in the database' },
  { env: 'POSTAMT_LOG_LEVEL', path: ['log', 'level'], describe: 'log level' },
  { env: 'POSTAMT_TLS_CERT', path: ['tls', 'cert'], describe: 'TLS certificate PEM file' },
  { env: 'POSTAMT_TLS_KEY', path: ['tls', 'key'], describe: 'TLS private key PEM file' },
  { env: 'POSTAMT_TLS_ECC_CERT', path: ['tls', 'eccCert'], describe: 'ECC TLS certificate PEM file beside an RSA one' },
  { env: 'POSTAMT_TLS_ECC_KEY', path: ['tls', 'eccKey'], describe: 'its private key PEM file' },
  { env: 'POSTAMT_ADMIN_TOKEN', path: ['service', 'http', 'adminToken'], describe: 'bearer token of the admin API' },
  { env: 'POSTAMT_INTEGRATION_PASSWORD', path: ['integration', 'credentials', 'password'], describe: 'password of the Application Integration endpoint' },
];

export interface LoadedConfig {
  config: Config;
  /** The file it came from, or null when defaults were used. */
  file: string | null;
  /** Deprecated keys read (`source: key: …` lines): `config check` prints them, a starting service logs them. */
  warnings: string[];
}

/** Formats zod issues as `key.path: message` lines, the form every config error takes. */
export function formatIssues(source: string, issues: z.core.$ZodIssue[]): string {
  return issues
    .map((i) => {
      const key = i.path.length ? i.path.join('.') : '(top level)';
      let msg = i.message;
      if (i.code === 'unrecognized_keys') msg = `unknown key(s): ${i.keys.join(', ')}`;
      return `${source}: ${key}: ${msg}`;
    })
    .join('\n');
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    if (typeof cur[key] !== 'object' || cur[key] === null) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

/** Replaces `${env:NAME}` in string values, so secrets can stay out of the file. */
function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, where: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
      const v = env[name];
      if (v === undefined) throw new UsageError(`${where.join('.') || '(top level)'}: environment variable ${name} is not set`);
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, [...where, String(i)]));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateEnv(v, env, [...where, k]);
    return out;
  }
  return value;
}

/**
 * Validates a raw object (already parsed from YAML) and applies env overrides. Keys renamed in
 * this release are read at their new place; one line per old key is appended to `warnings`.
 */
export function parseConfig(raw: unknown, source = 'config', env: NodeJS.ProcessEnv = process.env, baseDir = process.cwd(), warnings: string[] = []): Config {
  const obj = (interpolateEnv(raw ?? {}, env, []) ?? {}) as Record<string, unknown>;
  if (typeof obj !== 'object' || Array.isArray(obj)) throw new UsageError(`${source}: the top level must be a mapping of keys`);
  const renamed = moveRenamedKeys(obj, source);
  for (const o of ENV_OVERRIDES) {
    const v = env[o.env];
    if (v !== undefined && v !== '') setPath(obj, o.path, v);
  }
  const res = configSchema.safeParse(obj);
  // An error under an old key names the new one; the renames that follow say which old key that was.
  if (!res.success) throw new UsageError([formatIssues(source, res.error.issues), ...renamed].join('\n'));
  warnings.push(...renamed);
  const config = res.data;
  config.dataDir = isAbsolute(config.dataDir) ? config.dataDir : resolve(baseDir, config.dataDir);
  return config;
}

/** Reads postamt.yaml (or the given file); a missing default file means "all defaults". */
export function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const explicit = file ?? env.POSTAMT_CONFIG;
  const path = resolve(explicit ?? 'postamt.yaml');
  if (!existsSync(path)) {
    if (explicit) throw new UsageError(`config file ${path} does not exist`);
    return { config: parseConfig({}, 'defaults', env), file: null, warnings: [] };
  }
  const text = readFileSync(path, 'utf8');
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    throw new UsageError(doc.errors.map((e) => `${path}: ${e.message}`).join('\n'));
  }
  const warnings: string[] = [];
  return { config: parseConfig(doc.toJS(), path, env, dirname(path), warnings), file: path, warnings };
}

/** Resolves a path from the config against the data directory. */
export function inDataDir(config: Config, p: string): string {
  return isAbsolute(p) ? p : resolve(config.dataDir, p);
}
