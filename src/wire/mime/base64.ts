// Base64 bodies (RFC 2045 6.8). KOM-LE base64-encodes every message twice (the SignedData
// inside, the envelope outside) and decodes both again on receipt, so this is on the hot path.
// Encoding and decoding run in node's native codec, but never on one string for the whole body:
// a JS string above V8's regular-object limit (128 KB) lands in large-object space, and making
// one costs more than the codec itself (docs/benchmarks.md, bench:crypto). Chunks of a few
// hundred lines stay small.

/** Lines per chunk: about 20 KB of text, well below V8's large-object threshold. */
const LINES_PER_CHUNK = 256;
/** Below this many bytes one string is as cheap as chunks (and simpler). */
const CHUNKED_DECODE_MIN = 32 * 1024;

/**
 * `prefix` (a header block, latin1) followed by `data` in base64 with CRLF after every
 * `lineLength` characters (and after the last, shorter line), in one buffer.
 */
export function encodeBase64Lines(data: Uint8Array, prefix = '', lineLength = 76): Buffer {
  const src = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const chars = Math.ceil(src.length / 3) * 4;
  const head = Buffer.byteLength(prefix, 'latin1');
  const out = Buffer.allocUnsafe(head + chars + Math.ceil(chars / lineLength) * 2);
  let o = out.write(prefix, 0, 'latin1');
  // A chunk must end on a 3-byte group and on a line end, so its text splits into whole lines.
  const bytesPerLine = lineLength % 4 === 0 ? (lineLength / 4) * 3 : 3 * lineLength;
  const chunkBytes = bytesPerLine * LINES_PER_CHUNK;
  for (let i = 0; i < src.length; i += chunkBytes) {
    const text = src.toString('base64', i, Math.min(i + chunkBytes, src.length));
    const lines = Math.ceil(text.length / lineLength);
    // The chunk's text goes in two bytes per line to the right of where it belongs; each line
    // then moves left into place (never over text not yet moved) and gets its CRLF.
    let from = o + lines * 2;
    const textEnd = from + out.write(text, from, 'latin1');
    for (let k = 0; k < lines; k++) {
      const stop = Math.min(from + lineLength, textEnd);
      out.copyWithin(o, from, stop);
      o += stop - from;
      out[o++] = 0x0d;
      out[o++] = 0x0a;
      from = stop;
    }
  }
  return out;
}

/**
 * Decodes a base64 body. Line breaks and whitespace are skipped — and so, by node's decoder,
 * is any other character outside the alphabet: a damaged body comes out as damaged bytes, which
 * the CMS parser then refuses. Returns undefined when nothing decodes.
 */
export function decodeBase64Body(body: Uint8Array): Buffer | undefined {
  const src = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const out = decodeRegularLines(src) ?? Buffer.from(src.toString('latin1'), 'base64');
  return out.length > 0 ? out : undefined;
}

/**
 * The fast path for bodies as encoders write them: lines of one width (a multiple of 4), all
 * ending in CRLF or all in LF. Such a body is decoded chunk by chunk, each chunk being whole
 * lines of whole 4-character groups, so each decodes exactly as it would inside the whole body.
 * A chunk that yields fewer bytes than its characters promise held something else (a stray
 * character, '=' before the end); then undefined, and the caller decodes the whole body at
 * once — the result is always byte for byte what node's decoder makes of the whole body.
 */
function decodeRegularLines(src: Buffer): Buffer | undefined {
  if (src.length < CHUNKED_DECODE_MIN) return undefined;
  const firstLf = src.indexOf(0x0a);
  if (firstLf <= 0) return undefined;
  const crlf = src[firstLf - 1] === 0x0d;
  const width = crlf ? firstLf - 1 : firstLf;
  if (width === 0 || width % 4 !== 0) return undefined;
  const stride = firstLf + 1;
  const chunkLength = stride * LINES_PER_CHUNK;
  const bytesPerChunk = (width / 4) * 3 * LINES_PER_CHUNK;
  const out = Buffer.allocUnsafe(Math.ceil(src.length / 4) * 3 + 3);
  let o = 0;
  let s = 0;
  // Whole chunks; what is left after the last one (up to a chunk plus the final line) comes after.
  for (; s + chunkLength < src.length; s += chunkLength) {
    for (let lf = s + stride - 1; lf < s + chunkLength; lf += stride) {
      if (src[lf] !== 0x0a || (crlf && src[lf - 1] !== 0x0d)) return undefined;
    }
    const written = out.write(src.toString('latin1', s, s + chunkLength), o, 'base64');
    if (written !== bytesPerChunk) return undefined;
    o += written;
  }
  // Everything before was whole groups, so the rest decodes as it would at the end of the body.
  o += out.write(src.toString('latin1', s), o, 'base64');
  return out.subarray(0, o);
}
