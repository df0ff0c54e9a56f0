import assert from 'node:assert/strict';
import { runSync } from './process.js';
import * as asn1js from 'asn1js';

/** OpenSSL's command line, an implementation that is not ours, run in a working directory. */
export function opensslIn(cwd: () => string): {
  openssl(args: string[]): { ok: boolean; stdout: Buffer; stderr: string };
  mustOpenssl(args: string[]): Buffer;
} {
  const openssl = (args: string[]) => {
    const res = runSync('openssl', args, { cwd: cwd() });
    return { ok: res.code === 0, stdout: res.raw, stderr: res.stderr };
  };
  const mustOpenssl = (args: string[]) => {
    const res = openssl(args);
    assert.ok(res.ok, `openssl ${args.join(' ')} failed:\n${res.stderr}`);
    return res.stdout;
  };
  return { openssl, mustOpenssl };
}

/**
 * A copy of an AuthEnvelopedData ContentInfo without the unauthAttrs field, re-encoded by
 * asn1js. OpenSSL up to the mid-2026 fixes (openssl/openssl#26101, PR #31695) decodes
 * AuthEnvelopedData with the wrong implicit tags ([2]/[3] instead of RFC 5083's [1]/[2]) and
 * therefore rejects any message carrying unauthAttrs — which KOM-LE makes mandatory. Without
 * the field it can show that everything else (OAEP key transport, AES-GCM, tag) interoperates.
 */
export function withoutUnauthAttrs(der: Uint8Array): Buffer {
  const root = asn1js.fromBER(Uint8Array.from(der), { parseEmbedded: false }).result as asn1js.Sequence;
  const aed = (root.valueBlock.value[1] as asn1js.Constructed).valueBlock.value[0] as asn1js.Sequence;
  const last = aed.valueBlock.value.at(-1);
  assert.ok(last && last.idBlock.tagClass === 3 && last.idBlock.tagNumber === 2, 'unauthAttrs is the last field');
  aed.valueBlock.value.pop();
  return Buffer.from(root.toBER());
}
