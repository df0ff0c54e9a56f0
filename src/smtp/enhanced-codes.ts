import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

/**
 * smtp-server picks the enhanced status code of a callback error from its reply code alone
 * (552 is always 5.2.2, 554 always 5.6.0), but 552 5.3.4 and 554 5.7.1 are both needed. When
 * a reply text already starts with an enhanced code, send it without adding another.
 */
const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;
type Send = (this: unknown, code: number, data: unknown, context?: unknown) => void;
const proto = SMTPConnection.prototype as unknown as { send: Send; __postamtPatched?: boolean };

if (!proto.__postamtPatched) {
  const original = proto.send;
  proto.send = function (code, data, context) {
    if (typeof data === 'string' && ENHANCED.test(data)) return original.call(this, code, data, false);
    // gemSpec_CM_KOMLE wants 504 5.7.4 for a mechanism other than PLAIN/LOGIN (smtp-server says 5.5.4).
    if (code === 504 && typeof data === 'string' && /Unrecognized authentication type/.test(data)) {
      return original.call(this, code, '5.7.4 Unrecognized authentication mechanism: use PLAIN or LOGIN', false);
    }
    return original.call(this, code, data, context);
  };
  proto.__postamtPatched = true;
}
