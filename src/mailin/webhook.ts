import { httpCall, HttpClientError } from '../core/index.js';
import { sign, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './signature.js';
import { rejectCodes, smtpText, verdictFromJson, VerdictError } from './verdict.js';
import { ALLOW_HOSTS_KEY, type Agent, type DocumentPayload, type MailinHttpLimits, type RunResult, type Trigger } from './types.js';

/** HTTP answers that mean "try again later" although they are 4xx. */
const TEMPORARY_4XX = new Set([408, 425, 429]);

function parseJson(body: Buffer): unknown {
  const s = body.toString('utf8').trim();
  if (s === '') return undefined;
  return JSON.parse(s) as unknown;
}

/**
 * Calls a webhook agent: POST of the document as JSON, signed (signature.ts). The answer maps
 * like an SMTP reply: 2xx accept (the JSON may edit, file, drop or reject), 4xx reject with the
 * answer's text (for an after-delivery agent: give up, do not retry), 5xx, timeout or no answer
 * a failure (before-delivery: the agent's on-failure policy; after-delivery: retry later).
 */
export async function runWebhook(
  agent: Agent,
  trigger: Trigger,
  payload: DocumentPayload,
  limits: MailinHttpLimits,
): Promise<RunResult> {
  if (!agent.url || !agent.secret) return { outcome: 'failed', error: 'the agent has no URL or secret' };
  const body = JSON.stringify(payload);
  const timestamp = String(Math.floor(Date.now() / 1000));
  let answer;
  try {
    answer = await httpCall({
      method: 'POST',
      url: agent.url,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'postamt-mailin/1',
        [TIMESTAMP_HEADER]: timestamp,
        [SIGNATURE_HEADER]: sign(agent.secret, timestamp, body),
        'x-postamt-event': trigger,
        'x-postamt-agent': String(agent.id),
        // The same document and agent always give the same key: at-least-once becomes
        // exactly-once for a receiver that remembers keys.
        'idempotency-key': `${payload.id}.${agent.id}`,
      },
      body,
      allowHosts: limits.allowHosts,
      allowHostsName: ALLOW_HOSTS_KEY,
      targets: limits.targets,
      maxResponseBytes: limits.maxResponseBytes,
      deadlineMs: agent.timeoutMs,
    });
  } catch (err) {
    if (err instanceof HttpClientError) return { outcome: err.kind === 'timeout' ? 'timeout' : 'failed', error: err.message };
    return { outcome: 'failed', error: (err as Error).message };
  }
  const status = answer.status;
  if (status >= 200 && status < 300) {
    // Only a JSON answer carries instructions; "OK" in text/plain is a plain accept.
    if (!/json/i.test(answer.headers['content-type'] ?? '')) return { outcome: 'ok', httpStatus: status, verdict: { action: 'accept' } };
    try {
      return { outcome: 'ok', httpStatus: status, verdict: verdictFromJson(parseJson(answer.body)) };
    } catch (err) {
      const why = err instanceof VerdictError ? err.message : 'the answer is not JSON';
      return { outcome: 'failed', httpStatus: status, error: `unusable ${status} answer: ${why}` };
    }
  }
  if (status >= 400 && status < 500 && !TEMPORARY_4XX.has(status)) {
    let json: Record<string, unknown> | undefined;
    try {
      const j = parseJson(answer.body);
      if (j && typeof j === 'object' && !Array.isArray(j)) json = j as Record<string, unknown>;
    } catch {
      /* a plain-text answer: its text is the reason */
    }
    const text = smtpText(json ? (json.text ?? json.message ?? json.title) : answer.body.toString('utf8'), `Rejected by the mail-in agent (HTTP ${status})`);
    return { outcome: 'ok', httpStatus: status, verdict: { action: 'reject', ...rejectCodes(json?.code, json?.enhanced), text } };
  }
  return { outcome: 'failed', httpStatus: status, error: `answered HTTP ${status}` };
}
