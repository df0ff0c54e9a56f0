import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { EndpointsFile } from '../../src/roles/index.js';

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
  const child = spawn(process.execPath, ['bin/postamt.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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
