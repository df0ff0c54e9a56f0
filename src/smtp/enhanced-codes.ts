/**
 * smtp-server picks the enhanced status code of a callback error from its reply code alone
 * (552 is always 5.2.2, 554 always 5.6.0), but 552 5.3.4 and 554 5.7.1 are both needed. When
 * a reply text already starts with an enhanced code, it goes out without another one added
 * (smtp-server's `send` adds none when its context is `false`). Applied to every reply by the
 * `send` wrapper that patches.ts installs.
 */
const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;

/** The arguments `send` is to be called with instead of `code, data, context`. */
export function withOwnEnhancedCode(code: number, data: unknown, context: unknown): [number, unknown, unknown] {
  if (typeof data === 'string' && ENHANCED.test(data)) return [code, data, false];
  // gemSpec_CM_KOMLE wants 504 5.7.4 for a mechanism other than PLAIN/LOGIN (smtp-server says 5.5.4).
  if (code === 504 && typeof data === 'string' && /Unrecognized authentication type/.test(data)) {
    return [code, '5.7.4 Unrecognized authentication mechanism: use PLAIN or LOGIN', false];
  }
  return [code, data, context];
}
