import { spawn } from 'node:child_process';
import { dirname } from 'node:path';
import type { Socket } from 'node:net';
import { httpCall } from '../core/index.js';
import { encodeFrame, readFrames } from './frames.js';
import { childCommand, networkGranted, sandboxCapabilities, type SandboxCapabilities, type ScriptUser } from './script-sandbox.js';
import { verdictFromJson, VerdictError } from './verdict.js';
import { ALLOW_HOSTS_KEY, type Agent, type DocumentPayload, type MailinHttpLimits, type RunResult, type Trigger } from './types.js';

export interface ScriptLimits {
  maxOldGenerationSizeMb: number;
  maxYoungGenerationSizeMb: number;
  stackSizeMb: number;
  maxMemoryMb: number;
  maxMessageBytes: number;
  maxHttpInFlight: number;
  allowNetwork: string[];
  /** The account the process runs as (the service runs as root), or null: the service's own. */
  runAs?: ScriptUser | null;
}

type ChildMsg =
  | { type: 'http'; id: number; url: string; init: { method: string; headers: Record<string, string>; body?: string } }
  | { type: 'done'; verdict: unknown }
  | { type: 'error'; message: string; memory?: boolean };

/** How long a killed child may take to be gone before the run answers anyway (a process stuck in the kernel). */
const EXIT_WAIT_MS = 2000;

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* gone already */
  }
}

/** The script runs going on, by process id, so that closing the service ends them (they are in process groups of their own). */
export class ScriptRuns {
  readonly pids = new Set<number>();

  killAll(): void {
    for (const pid of this.pids) killGroup(pid);
  }
}

/** The environment a script gets: none of the service's (it may hold secrets), the time zone kept. */
function childEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ['TZ', 'LANG', 'LC_ALL']) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  return env;
}

/**
 * Runs a script agent in a child process of its own, started for this run and killed after
 * its verdict, so nothing the script starts (timers, sockets, intervals) outlives the run. The
 * operating system bounds it (script-sandbox.ts): RLIMIT_DATA over all of its memory beyond
 * Node's own start — the V8 heap and what lies outside it, Buffers —, no network of its own unless granted, Node's
 * permission model (reads only its folder; no child processes, workers, addons, writes), V8
 * heap flags; the time limit ends it with SIGKILL. The document goes in and the verdict comes
 * back as bounded frames on fd 3; `api.http` calls are made here, under the webhooks' rules.
 */
export async function runScript(
  agent: Agent,
  trigger: Trigger,
  doc: DocumentPayload,
  limits: ScriptLimits,
  http: MailinHttpLimits,
  sandbox: Promise<SandboxCapabilities> = sandboxCapabilities(),
  runs = new ScriptRuns(),
): Promise<RunResult> {
  if (!agent.scriptPath) return { outcome: 'failed', error: 'the agent has no script' };
  const scriptPath = agent.scriptPath;
  const deadline = Date.now() + agent.timeoutMs;
  const caps = await sandbox;
  const cmd = childCommand(
    caps,
    { ...limits, cpuSeconds: Math.ceil(agent.timeoutMs / 1000) + 1 },
    dirname(scriptPath),
    networkGranted(scriptPath, limits.allowNetwork),
    limits.runAs ?? null,
  );
  const memoryText = `the script went over its memory limit (${limits.maxMemoryMb} MB above Node's start, ${limits.maxOldGenerationSizeMb} MB heap) and was stopped`;
  return new Promise<RunResult>((resolve) => {
    let settled = false;
    let exited = false;
    let inFlight = 0;
    // The run's api.http calls end with it.
    const calls = new AbortController();
    const child = spawn(cmd.file, cmd.args, {
      // The script's console output is not ours to log (it may contain the message).
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      env: childEnv(),
      cwd: dirname(scriptPath),
      detached: true,
      ...(cmd.uid !== undefined ? { uid: cmd.uid, gid: cmd.gid } : {}),
    });
    const pid = child.pid;
    if (pid !== undefined) runs.pids.add(pid);
    const channel = child.stdio[3] as Socket;
    const finish = (r: RunResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      calls.abort();
      if (pid !== undefined) killGroup(pid);
      if (exited || pid === undefined) return resolve(r);
      // Answered once the process is gone: nothing of the run is left when the caller goes on.
      const fallback = setTimeout(() => resolve(r), EXIT_WAIT_MS);
      child.once('exit', () => {
        clearTimeout(fallback);
        resolve(r);
      });
    };
    const timer = setTimeout(() => finish({ outcome: 'timeout', error: `the script ran longer than ${agent.timeoutMs} ms and was stopped` }), agent.timeoutMs);
    child.on('error', (err) => finish({ outcome: 'failed', error: `the script's process could not be started: ${err.message}` }));
    child.on('exit', (code, signal) => {
      exited = true;
      if (pid !== undefined) runs.pids.delete(pid);
      // V8 aborts when the heap is exhausted; RLIMIT_CPU sends SIGXCPU.
      if (signal === 'SIGABRT' || signal === 'SIGTRAP' || code === 134) finish({ outcome: 'memory', error: memoryText });
      else if (signal === 'SIGXCPU') finish({ outcome: 'timeout', error: `the script used more than its CPU time and was stopped` });
      // 126/127: unshare, prlimit or the shell could not execute Node — as mailin.script.user,
      // a runtime in a folder only root may enter (a private install, a 0700 temp folder).
      else if (code === 126 || code === 127)
        finish({
          outcome: 'failed',
          error: `the script's runtime ${process.execPath} could not be executed${limits.runAs ? ` as ${limits.runAs.name}` : ''} (exit code ${code}): it and its folders must be readable and executable for mailin.script.user`,
        });
      else finish({ outcome: 'failed', error: `the script's process ended (${signal ?? `exit code ${code}`}) without a verdict` });
    });
    channel.on('error', () => undefined);
    const send = (m: unknown): void => {
      if (!settled && channel.writable) channel.write(encodeFrame(m));
    };
    readFrames(
      channel,
      limits.maxMessageBytes,
      (raw) => {
        if (settled) return;
        const m = raw as ChildMsg;
        if (m.type === 'done') {
          try {
            finish({ outcome: 'ok', verdict: verdictFromJson(m.verdict) });
          } catch (err) {
            finish({ outcome: 'failed', error: err instanceof VerdictError ? `unusable verdict: ${err.message}` : String(err) });
          }
        } else if (m.type === 'error') {
          if (m.memory) finish({ outcome: 'memory', error: memoryText });
          else finish({ outcome: 'failed', error: `the script failed: ${String(m.message).slice(0, 500)}` });
        } else if (m.type === 'http' && typeof m.id === 'number' && typeof m.url === 'string' && m.init && typeof m.init === 'object') {
          const id = m.id;
          if (inFlight >= limits.maxHttpInFlight) {
            return send({ id, ok: false, error: `more than ${limits.maxHttpInFlight} api.http calls at once (mailin.script.maxHttpInFlight)` });
          }
          inFlight++;
          httpCall({
            method: String(m.init.method),
            url: m.url,
            headers: typeof m.init.headers === 'object' && m.init.headers ? m.init.headers : {},
            ...(typeof m.init.body === 'string' ? { body: m.init.body } : {}),
            allowHosts: http.allowHosts,
            allowHostsName: ALLOW_HOSTS_KEY,
            targets: http.targets,
            maxResponseBytes: http.maxResponseBytes,
            deadlineMs: Math.max(1, deadline - Date.now()),
            signal: calls.signal,
          })
            .then((a) => send({ id, ok: true, answer: { status: a.status, headers: a.headers, text: a.body.toString('utf8') } }))
            .catch((err: Error) => send({ id, ok: false, error: err.message }))
            .finally(() => inFlight--);
        }
      },
      (why) => finish({ outcome: 'failed', error: `the script's process sent ${why} (mailin.script.maxMessageBytes)` }),
    );
    channel.write(encodeFrame({ scriptPath, trigger, doc }));
  });
}
