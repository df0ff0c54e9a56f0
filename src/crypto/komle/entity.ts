import { isAscii } from 'node:buffer';
import { mime } from '../../wire/index.js';
import { P7M_DISPOSITION, SIGNED_CONTENT_TYPE } from './constants.js';

// The two MIME entities between the layers: the signed content (the PS's message as
// message/rfc822) and the encrypted content (the SignedData as application/pkcs7-mime).

/**
 * `Content-Type: message/rfc822` around the PS's message, byte for byte. 8-bit content is
 * declared `binary` (RFC 2045 allows it for message/rfc822; 8bit would promise short CRLF lines).
 */
export function rfc822Entity(message: Uint8Array): Buffer {
  const head = `Content-Type: message/rfc822\r\n${isAscii(message) ? '' : 'Content-Transfer-Encoding: binary\r\n'}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), message]);
}

/**
 * The SignedData as an S/MIME entity (RFC 8551 3.5) with `Content-Transfer-Encoding: binary`: the
 * DER follows the empty line as it is (gemSpec_CM_KOMLE KOM-LE-A_2299-01: binary, not base64;
 * only the outer envelope is base64).
 */
export function signedDataEntity(signedDataDer: Uint8Array): Buffer {
  const head = `Content-Type: ${SIGNED_CONTENT_TYPE}\r\nContent-Transfer-Encoding: binary\r\nContent-Disposition: ${P7M_DISPOSITION}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), signedDataDer]);
}

export type EntityBody = { ok: true; bytes: Uint8Array; fields: readonly mime.HeaderField[] } | { ok: false; detail: string };

/**
 * The DER inside an application/pkcs7-mime entity (as we and OpenSSL write them: base64 or
 * binary). With `allowBareDer`, DER without a MIME header is accepted too (some implementations encrypt it so).
 */
export function pkcs7Body(entity: Uint8Array, expectSmimeType: readonly string[], what: string, allowBareDer = false): EntityBody {
  if (allowBareDer && entity[0] === 0x30) return { ok: true, bytes: entity, fields: [] };
  let block: mime.HeaderBlock;
  try {
    block = mime.readHeaderBlock(entity, 64 * 1024);
  } catch (err) {
    return { ok: false, detail: `${what}: header unreadable (${err instanceof Error ? err.message : String(err)})` };
  }
  const type = mime.parseContentType(mime.findField(block.fields, 'Content-Type')?.value);
  if (type.mediaType !== 'application/pkcs7-mime' && type.mediaType !== 'application/x-pkcs7-mime') {
    return { ok: false, detail: `${what}: Content-Type ${type.mediaType}, application/pkcs7-mime expected` };
  }
  const smimeType = type.params['smime-type']?.toLowerCase();
  if (smimeType !== undefined && !expectSmimeType.includes(smimeType)) {
    return { ok: false, detail: `${what}: smime-type=${smimeType}, ${expectSmimeType[0]} expected` };
  }
  const body = entity.subarray(block.bodyStart);
  const cte = (mime.findField(block.fields, 'Content-Transfer-Encoding')?.value ?? '7bit').toLowerCase();
  if (cte === 'base64') {
    const der = mime.decodeBase64Body(body);
    if (!der || der.length === 0) return { ok: false, detail: `${what}: body is not valid base64` };
    return { ok: true, bytes: der, fields: block.fields };
  }
  if (cte === 'binary' || cte === '8bit' || cte === '7bit') return { ok: true, bytes: body, fields: block.fields };
  return { ok: false, detail: `${what}: Content-Transfer-Encoding ${cte} is not supported` };
}
