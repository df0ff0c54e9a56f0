#!/usr/bin/env node
// Runs every compiled test file with Node's own test runner. The files are listed explicitly
// because `node --test <dir>` means different things on Node 20 (directory walk) and 22+ (glob).
//
// PostgreSQL: the tests use POSTAMT_TEST_PG_URL, else the server on 127.0.0.1:5432. When neither
// answers (or POSTAMT_TEST_PRIVATE_PG=1 asks for it), a private server from the npm registry's
// binaries is started for this run and removed at its end (scripts/private-postgres.mjs).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { postgresAnswers, startPrivatePostgres } from './private-postgres.mjs';

const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...collect(path));
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

/** The environment the tests run in, and how to stop a private PostgreSQL started for them. */
async function postgresForTests() {
  const env = { ...process.env };
  if (env.POSTAMT_TEST_SKIP_PG === '1') return { env, stop: async () => undefined };
  if (env.POSTAMT_TEST_PRIVATE_PG !== '1') {
    if (env.POSTAMT_TEST_PG_URL) return { env, stop: async () => undefined };
    if (await postgresAnswers(DEFAULT_PG_URL)) return { env, stop: async () => undefined };
    console.error(`run-tests: no PostgreSQL answers at ${DEFAULT_PG_URL} and POSTAMT_TEST_PG_URL is unset: starting a private one`);
  }
  const pg = await startPrivatePostgres();
  console.error(`run-tests: private PostgreSQL at ${pg.url.replace(/:[^:@/]*@/, '@')}`);
  env.POSTAMT_TEST_PG_URL = pg.url;
  return { env, stop: pg.stop };
}

const filter = process.argv.slice(2);
let files = collect('dist/test');
if (filter.length) files = files.filter((f) => filter.some((p) => f.includes(p)));
if (files.length === 0) {
  console.error('run-tests: no test files found under dist/test (did the build run?)');
  process.exit(1);
}
const { env, stop } = await postgresForTests();
const child = spawn(process.execPath, ['--test', '--test-reporter=spec', ...files], { stdio: 'inherit', env });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
const status = await new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 1))));
await stop();
process.exit(status);
