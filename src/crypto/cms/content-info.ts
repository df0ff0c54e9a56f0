import { FieldReader, expectOid, expectSequence, explicitInner, isContext, readBer, CMS_BER, type Tlv } from '../../wire/ber/index.js';
import { CmsError } from './errors.js';

/**
 * Opens `ContentInfo ::= SEQUENCE { contentType, content [0] EXPLICIT ANY }` and insists on the
 * expected content type (a different one is well-formed, just not what the caller handles).
 */
export function openContentInfo(der: Uint8Array, expectedType: string, what: string): Tlv {
  const r = new FieldReader(expectSequence(readBer(der, what, CMS_BER), `${what} ContentInfo`), `${what} ContentInfo`);
  const contentType = expectOid(r.next('contentType'), `${what} contentType`);
  const wrapper = r.next('content');
  r.end();
  if (contentType !== expectedType) throw new CmsError('unsupported', `${what}: content type ${contentType}, expected ${expectedType}`);
  if (!isContext(wrapper, 0) || !wrapper.constructed) throw new CmsError('malformed', `${what}: content must be [0] EXPLICIT`);
  return explicitInner(wrapper, what);
}
