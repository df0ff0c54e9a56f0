import * as asn1js from 'asn1js';
import { derNode, writeDer } from '../../wire/ber/index.js';

// CMS leaf encodings (OIDs, IA5String, times). OIDs are delegated to asn1js and memoised; the
// IA5String and time written on every message are plain ASCII and cheaper to spell out here
// (asn1js built an object tree per value, several per message; docs/benchmarks.md, bench:crypto).
// The tree writer itself lives in wire/ber.

const oidCache = new Map<string, Uint8Array>();

/** DER of an OBJECT IDENTIFIER (memoised: the same few OIDs are written on every message). */
export function derOid(oid: string): Uint8Array {
  let der = oidCache.get(oid);
  if (!der) {
    der = toDer(new asn1js.ObjectIdentifier({ value: oid }));
    oidCache.set(oid, der);
  }
  return der;
}

const IA5_STRING = 0x16;
const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;

/** IA5String of ASCII text (the caller has checked it is ASCII). */
export function derIa5(text: string): Uint8Array {
  if (!/^[\x00-\x7f]*$/.test(text)) throw new RangeError('derIa5: IA5String is ASCII only');
  return writeDer(derNode(IA5_STRING, [Buffer.from(text, 'latin1')]));
}

/**
 * RFC 5652 11.3: UTCTime (YYMMDDHHMMSSZ) for 1950..2049, GeneralizedTime (YYYYMMDDHHMMSSZ)
 * otherwise; whole seconds (truncated), no fraction, always Z, as DER requires.
 */
export function derTime(at: Date): Uint8Array {
  const whole = new Date(Math.floor(at.getTime() / 1000) * 1000);
  const year = whole.getUTCFullYear();
  if (year < 0 || year > 9999) throw new RangeError('derTime: year outside 0..9999');
  const two = (n: number): string => String(n).padStart(2, '0');
  const rest = `${two(whole.getUTCMonth() + 1)}${two(whole.getUTCDate())}${two(whole.getUTCHours())}${two(whole.getUTCMinutes())}${two(whole.getUTCSeconds())}Z`;
  const utc = year >= 1950 && year < 2050;
  return writeDer(derNode(utc ? UTC_TIME : GENERALIZED_TIME, [Buffer.from(`${utc ? two(year % 100) : String(year).padStart(4, '0')}${rest}`, 'latin1')]));
}

/** DER of a value built with asn1js (constants and leaves only). */
export function toDer(block: { toBER(sizeOnly?: boolean): ArrayBuffer }): Uint8Array {
  return new Uint8Array(block.toBER(false));
}
