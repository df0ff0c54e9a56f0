import { Worker } from 'node:worker_threads';
import { httpCall } from '../core/index.js';
import { verdictFromJson, VerdictError } from './verdict.js';
import { ALLOW_HOSTS_KEY, type Agent, type DocumentPayload, type MailinHttpLimits, type RunResult, type Trigger } from './types.js';

export interface ScriptLimits {
  maxOldGenerationSizeMb: number;
  maxYoungGenerationSizeMb: number;
  stackSizeMb: number;
}

const WORKER_URL = new URL('./script-worker.js', import.meta.url);

/**
 * Runs a script agent in its own worker thread with V8 heap limits and a time limit (the
 * worker is terminated when it runs over). A worker is not a security boundary — the script
 * is the administrator's own code, like a Domino agent they signed — the limits stop runaway
 * loops and allocations from taking the service down with them.
 */
export function runScript(
  agent: Agent,
  trigger: Trigger,
  doc: DocumentPayload,
  limits: ScriptLimits,
  http: MailinHttpLimits,
): Promise<RunResult> {
  if (!agent.scriptPath) return Promise.resolve({ outcome: 'failed', error: 'the agent has no script' });
  const deadline = Date.now() + agent.timeoutMs;
  return new Promise<RunResult>((resolve) => {
    let settled = false;
    const worker = new Worker(WORKER_URL, {
      workerData: { scriptPath: agent.scriptPath, trigger, doc },
      resourceLimits: limits,
      // The script's console output is not ours to log (it may contain the message).
      stdout: true,
      stderr: true,
    });
    worker.stdout.resume();
    worker.stderr.resume();
    const finish = (r: RunResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
      void worker.terminate();
    };
    const timer = setTimeout(() => finish({ outcome: 'timeout', error: `the script ran longer than ${agent.timeoutMs} ms and was stopped` }), agent.timeoutMs);
    worker.on('message', (m: { type: string; id?: number; url?: string; init?: { method: string; headers: Record<string, string>; body?: string }; verdict?: unknown; message?: string }) => {
      if (m.type === 'done') {
        try {
          finish({ outcome: 'ok', verdict: verdictFromJson(m.verdict) });
        } catch (err) {
          finish({ outcome: 'failed', error: err instanceof VerdictError ? `unusable verdict: ${err.message}` : String(err) });
        }
      } else if (m.type === 'error') {
        finish({ outcome: 'failed', error: `the script failed: ${String(m.message).slice(0, 500)}` });
      } else if (m.type === 'http' && m.id !== undefined && m.url && m.init) {
        const id = m.id;
        httpCall({
          method: m.init.method,
          url: m.url,
          headers: m.init.headers,
          ...(m.init.body !== undefined ? { body: m.init.body } : {}),
          allowHosts: http.allowHosts,
          allowHostsName: ALLOW_HOSTS_KEY,
          targets: http.targets,
          maxResponseBytes: http.maxResponseBytes,
          deadlineMs: Math.max(1, deadline - Date.now()),
        })
          .then((a) => worker.postMessage({ id, ok: true, answer: { status: a.status, headers: a.headers, text: a.body.toString('utf8') } }))
          .catch((err: Error) => worker.postMessage({ id, ok: false, error: err.message }));
      }
    });
    worker.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') finish({ outcome: 'memory', error: `the script went over its memory limit (${limits.maxOldGenerationSizeMb} MB heap) and was stopped` });
      else finish({ outcome: 'failed', error: `the script failed: ${err.message.slice(0, 500)}` });
    });
    worker.on('exit', (code) => finish({ outcome: 'failed', error: `the script's worker ended (exit code ${code}) without a verdict` }));
  });
}
