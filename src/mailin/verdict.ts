import { checkFolder, checkHeaderChanges, HeaderEditError } from './header-edit.js';
import type { Verdict } from './types.js';

/** Default answer when an agent rejects without saying how (RFC 3463 5.7.1: delivery not authorized). */
export const DEFAULT_REJECT = { code: 550, enhanced: '5.7.1' } as const;

/**
 * Text from an agent goes into an SMTP reply line: printable ASCII only, no line breaks, at
 * most 200 characters, never empty. Anything else would let the agent break the protocol.
 */
export function smtpText(text: unknown, fallback = 'Rejected by the mail-in agent'): string {
  const s = typeof text === 'string' ? text.replace(/[\r\n\t]+/g, ' ').replace(/[^\x20-\x7e]/g, '?').trim().slice(0, 200) : '';
  return s || fallback;
}

/** An agent's own SMTP code and enhanced code, if valid; 4xx and 5xx only, class digits agreeing. */
export function rejectCodes(code: unknown, enhanced: unknown): { code: number; enhanced: string } {
  const c = typeof code === 'number' && Number.isInteger(code) && code >= 400 && code <= 599 ? code : DEFAULT_REJECT.code;
  const e = typeof enhanced === 'string' && /^[45]\.\d{1,3}\.\d{1,3}$/.test(enhanced) && enhanced[0] === String(c)[0] ? enhanced : c >= 500 ? DEFAULT_REJECT.enhanced : '4.7.1';
  return { code: c, enhanced: e };
}

/**
 * Reads a 2xx webhook answer: empty or `{}` accepts; `{"action":"drop"}` drops;
 * `{"action":"file","folder":"…"}` files into a folder; `{"headers":{…}}` changes headers;
 * `{"action":"reject", "code":550, "enhanced":"5.7.1", "text":"…"}` rejects (as a 4xx answer
 * would). Throws VerdictError for a malformed answer (the run then fails).
 */
export function verdictFromJson(answer: unknown): Verdict {
  if (answer === undefined || answer === null) return { action: 'accept' };
  if (typeof answer !== 'object' || Array.isArray(answer)) throw new VerdictError('the answer must be a JSON object');
  const a = answer as Record<string, unknown>;
  const action = a.action ?? 'accept';
  try {
    switch (action) {
      case 'accept':
      case 'file': {
        const v: Verdict = { action: 'accept' };
        if (a.headers !== undefined) v.headers = checkHeaderChanges(a.headers);
        if (a.folder !== undefined) v.folder = checkFolder(a.folder);
        else if (action === 'file') throw new VerdictError('"file" needs a folder');
        return v;
      }
      case 'drop':
        return { action: 'drop' };
      case 'reject':
        return { action: 'reject', ...rejectCodes(a.code, a.enhanced), text: smtpText(a.text ?? a.message) };
      default:
        throw new VerdictError(`unknown action ${JSON.stringify(action).slice(0, 40)}`);
    }
  } catch (err) {
    if (err instanceof HeaderEditError) throw new VerdictError(err.message);
    throw err;
  }
}

export class VerdictError extends Error {}
