import { KonnektorError, type KonnektorErrorCode } from '../errors.js';
import { child, children, find, parseXml, type XmlElement } from './xml.js';

const TEL_ERROR_NS = 'http://ws.gematik.de/tel/error/v2.0';

/**
 * What a TelematikError code (tel/error/TelematikError.xsd: Error/Trace/Code) means for the
 * client module. 4004–4006 are the context codes gemSpec_CM_KOMLE names (the SMTP 501 row of
 * its AUTH table); the others are gemSpec_Kon's codes for a context not assigned, a card
 * handle not (or no longer) valid and a card or key that cannot be used — gemSpec_Kon is not
 * among our spec texts, so these were taken from its error tables as published and should be
 * checked against the Konnektor's manual. Unlisted codes are `refused` with the code in
 * the message, so nothing is wrongly blamed on the practice's setup.
 */
export const TELEMATIK_ERROR_CODES: Readonly<Record<number, { code: KonnektorErrorCode; staleHandle?: true }>> = {
  4004: { code: 'unknown-mandant' },
  4005: { code: 'unknown-client-system' },
  4006: { code: 'unknown-workplace' },
  /** ClientSystem not assigned to the Mandant. */
  4010: { code: 'unknown-client-system' },
  /** Workplace not assigned to the Mandant. */
  4011: { code: 'unknown-workplace' },
  /** Card not identified as inserted: pulled since GetCards. */
  4008: { code: 'card-not-found', staleHandle: true },
  /** Card handle invalid. */
  4101: { code: 'card-not-found', staleHandle: true },
  /** PIN not verified / security state not reached: the card is there, its key is locked. */
  4085: { code: 'key-not-available' },
  /** PIN blocked. */
  4063: { code: 'key-not-available' },
  /** No key or certificate of that kind on the card. */
  4149: { code: 'key-not-available' },
};

/** A KonnektorError from a SOAP fault, with what the fault said. */
export class KonnektorFault extends KonnektorError {
  constructor(
    code: KonnektorErrorCode,
    message: string,
    readonly telematikCode: number | undefined,
    readonly staleHandle: boolean,
  ) {
    super(code, message);
  }
}

/**
 * The fault in a SOAP envelope (1.1: faultstring, detail; 1.2: Reason, Detail), or undefined
 * when the body holds none. The first Trace whose Code we know decides; otherwise the first
 * code is reported inside a `refused`.
 */
export function faultOf(envelope: XmlElement, operation: string): KonnektorFault | undefined {
  const body = child(envelope, 'Body');
  const fault = child(body, 'Fault');
  if (!fault) return undefined;
  const faultText = (child(fault, 'faultstring')?.text ?? find(child(fault, 'Reason'), 'Text')?.text ?? '').trim();
  const error = findNs(fault, TEL_ERROR_NS, 'Error');
  const traces = children(error, 'Trace').map((t) => ({ code: Number(child(t, 'Code')?.text.trim()), text: (child(t, 'ErrorText')?.text ?? '').trim() }));
  const known = traces.find((t) => TELEMATIK_ERROR_CODES[t.code]);
  const first = known ?? traces.find((t) => Number.isInteger(t.code));
  const what = first ? `${first.code}${first.text ? ' ' + first.text : ''}` : faultText || 'no detail';
  if (known) {
    const m = TELEMATIK_ERROR_CODES[known.code]!;
    return new KonnektorFault(m.code, `Konnektor ${operation}: ${what}`, known.code, m.staleHandle === true);
  }
  // The Konnektor answered, so it is there: a fault we cannot place is its refusal, not its absence.
  return new KonnektorFault('refused', `Konnektor ${operation} failed: ${what}`, first?.code, false);
}

function findNs(el: XmlElement | undefined, ns: string, name: string): XmlElement | undefined {
  if (!el) return undefined;
  for (const c of el.children) {
    if (c.ns === ns && c.name === name) return c;
    const deeper = findNs(c, ns, name);
    if (deeper) return deeper;
  }
  return undefined;
}

/** Parses a SOAP answer; anything not an Envelope is `unavailable` ("answered nonsense"). */
export function parseEnvelope(raw: string, operation: string): XmlElement {
  let env: XmlElement;
  try {
    env = parseXml(raw);
  } catch (err) {
    throw new KonnektorError('unavailable', `Konnektor ${operation}: the answer is not XML (${(err as Error).message})`, { cause: err });
  }
  if (env.name !== 'Envelope' || !child(env, 'Body')) throw new KonnektorError('unavailable', `Konnektor ${operation}: the answer is no SOAP envelope`);
  return env;
}
