import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { EndpointsFile } from '../../src/roles/index.js';
import { repositoryPath } from './env.js';

// Child processes for the tests: programs we did not write (openssl, curl, ldapsearch, Python's
// poplib) as independent implementations, and `postamt` itself as a user runs it.

/** What a program that ran to its end left: its exit code (null after a signal) and its output. */
export interface Ran {
  code: number | null;
  stdout: string;
  /** stdout as bytes, for output that is not text. */
  raw: Buffer;
  stderr: string;
}

export interface RunOptions {
  /** Written to stdin, which is then closed (without it stdin is /dev/null). */
  input?: string | Buffer;
  /** The whole environment of the child (default: this process's). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** How stdout is decoded into `stdout` (default utf8). */
  encoding?: BufferEncoding;
  /** Throw, with stderr in the message, unless the program exits 0 (as execFile does). */
  check?: boolean;
}

function finished(cmd: string, args: readonly string[], code: number | null, raw: Buffer, err: Buffer, opts: RunOptions): Ran {
  const ran = { code, raw, stdout: raw.toString(opts.encoding ?? 'utf8'), stderr: err.toString('utf8') };
  if (opts.check && code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${ran.stderr}`);
  return ran;
}

/** Runs a program to its end without blocking: servers in this process keep serving meanwhile. */
export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<Ran> {
  const child = spawn(cmd, args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: opts.env, cwd: opts.cwd });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => err.push(d));
  // A program that exits without reading all of its input closes the pipe: that is its answer, not an error here.
  child.stdin?.on('error', () => undefined);
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  const [code] = (await once(child, 'close')) as [number | null];
  return finished(cmd, args, code, Buffer.concat(out), Buffer.concat(err), opts);
}

/**
 * The same, blocking the event loop until the program has ended: only for tests that run no
 * server of their own in this process (a spawnSync against one would wait for itself).
 */
export function runSync(cmd: string, args: readonly string[], opts: RunOptions = {}): Ran {
  const r = spawnSync(cmd, args, { input: opts.input, env: opts.env, cwd: opts.cwd, maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw r.error;
  return finished(cmd, args, r.status, r.stdout, r.stderr, opts);
}

export interface PostamtOptions extends RunOptions {
  /** The configuration file, given as `-c <file>` before the arguments. */
  config?: string;
}

/** The command line of the built CLI (bin/postamt.js), as a user types it. */
function postamtArgs(args: readonly string[], config: string | undefined): string[] {
  return [repositoryPath('bin', 'postamt.js'), ...(config ? ['-c', config] : []), ...args];
}

/** `postamt <args>` run to its end (see run). */
export function postamt(args: readonly string[], opts: PostamtOptions = {}): Promise<Ran> {
  return run(process.execPath, postamtArgs(args, opts.config), opts);
}

/** `postamt <args>` run to its end, blocking (see runSync). */
export function postamtSync(args: readonly string[], opts: PostamtOptions = {}): Ran {
  return runSync(process.execPath, postamtArgs(args, opts.config), opts);
}

/** Runs a Python script (argv after the script: the given args) and parses its JSON stdout. */
export async function python<T>(script: string, args: (string | number)[]): Promise<T> {
  const { stdout } = await run('python3', ['-c', script, ...args.map(String)], { check: true });
  return JSON.parse(stdout) as T;
}

export interface ServiceProcess {
  child: ChildProcess;
  endpoints: EndpointsFile['endpoints'];
  /** Resolves with the exit code or signal once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout: string[];
}

/**
 * Runs `postamt <command>` as a real child process and resolves once it logged that it is
 * running (the log line is the synchronisation point, not a sleep).
 */
export async function spawnPostamt(args: string[], dataDir: string, readyPattern = /postamt service running|Stop with Ctrl-C/): Promise<ServiceProcess> {
  const child = spawn(process.execPath, postamtArgs(args, undefined), { stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const stderr: string[] = [];
  child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  await new Promise<void>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      stdout.push(line);
      if (readyPattern.test(line)) resolve();
    });
    void exited.then(({ code, signal }) => reject(new Error(`postamt exited (${code ?? signal}) before it was ready:\n${stdout.join('\n')}\n${stderr.join('')}`)));
  });
  const file = JSON.parse(readFileSync(join(dataDir, 'endpoints.json'), 'utf8')) as EndpointsFile;
  return { child, endpoints: file.endpoints, exited, stdout };
}
