import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface BenchServer {
  dir: string;
  child: ChildProcess;
  endpoints: Record<string, { host: string; port: number }>;
  /** Peak resident set size of the server process so far, in MiB (VmHWM). */
  peakRssMiB(): number;
  /** User + system CPU time of the server process so far, in ms (all its threads). */
  cpuMs(): number;
  /** Resolves when the server has logged a line containing `text` (the last 1000 lines are kept). */
  waitForLog(text: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * How the benches start a postamt server process: as docs/configuration.md ("Running the
 * server") recommends for production, with V8's old space starting at 256 MiB; BENCH_SERVER_NODE_FLAGS
 * adds flags of one's own (`--perf-basic-prof` for perf, say).
 */
export const SERVER_NODE_FLAGS = ['--initial-old-space-size=256', ...(process.env.BENCH_SERVER_NODE_FLAGS ?? '').split(' ').filter(Boolean)];

/** Starts `postamt serve` in a fresh data directory with one domain and the given accounts. */
export async function startBenchServer(
  accounts: Array<{ address: string; password: string; telematikId?: string }>,
  extraYaml = '',
  beforeStart?: (configFile: string) => Promise<void>,
): Promise<BenchServer> {
  const dir = mkdtempSync(join(tmpdir(), 'postamt-bench-'));
  const cfg = join(dir, 'postamt.yaml');
  writeFileSync(
    cfg,
    `dataDir: ${dir}\nlog:\n  level: info\nservice:\n  hostname: bench.test\n  smtp:\n    mx: { port: 0 }\n    submission: { port: 0 }\n    maxConnections: 1000\n  pop3:\n    starttls: { port: 0 }\n    implicit: { port: 0 }\n    maxConnections: 1000\n  http: { port: 0 }\n${extraYaml}`,
  );
  const cli = (...args: string[]) => execFileSync(process.execPath, ['bin/postamt.js', '-c', cfg, ...args], { stdio: ['pipe', 'ignore', 'inherit'] });
  const domains = [...new Set(accounts.map((a) => a.address.split('@')[1]!))];
  for (const d of domains) cli('domain', 'add', d);
  for (const a of accounts) execFileSync(process.execPath, ['bin/postamt.js', '-c', cfg, 'account', 'add', a.address, '--password-stdin', ...(a.telematikId ? ['--telematik-id', a.telematikId] : [])], { input: a.password, stdio: ['pipe', 'ignore', 'inherit'] });
  await beforeStart?.(cfg);
  const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, ...profile, 'bin/postamt.js', '-c', cfg, 'serve'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const recent: string[] = [];
  const waiters: Array<{ text: string; resolve: (line: string) => void }> = [];
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      recent.push(l);
      if (recent.length > 1000) recent.shift();
      if (l.includes('postamt service running')) resolve();
      for (const w of waiters.filter((x) => l.includes(x.text))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(l);
      }
    });
    child.once('exit', (c) => reject(new Error(`server exited with ${c}`)));
  });
  const endpoints = (JSON.parse(readFileSync(join(dir, 'endpoints.json'), 'utf8')) as { endpoints: BenchServer['endpoints'] }).endpoints;
  return {
    dir,
    child,
    endpoints,
    waitForLog: (text) => {
      const seen = recent.find((l) => l.includes(text));
      return seen !== undefined ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ text, resolve }));
    },
    peakRssMiB: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      return kb / 1024;
    },
    cpuMs: () => cpuMsOf(child.pid!),
    stop: async () => {
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** User + system CPU a process (all its threads) has used so far, in ms (Linux /proc; works for any process). */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat(5), in clock ticks (USER_HZ, 100 on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function which(cmd: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}
