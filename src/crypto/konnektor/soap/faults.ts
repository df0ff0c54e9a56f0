import { KonnektorError, type KonnektorErrorCode } from '../errors.js';
import { telematikError } from '../../../wire/konnektor/index.js';
import { child, children, find, parseXml, type XmlElement } from './xml.js';

const TEL_ERROR_NS = 'http://ws.gematik.de/tel/error/v2.0';


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
  // The codes' meanings: wire/konnektor/telematik-errors.ts (one table with the simulator's).
  const known = traces.find((t) => telematikError(t.code)?.meaning);
  const first = known ?? traces.find((t) => Number.isInteger(t.code));
  const what = first ? `${first.code}${first.text ? ' ' + first.text : ''}` : faultText || 'no detail';
  if (known) {
    const m = telematikError(known.code)!;
    return new KonnektorFault(m.meaning!, `Konnektor ${operation}: ${what}`, known.code, m.staleHandle === true);
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
