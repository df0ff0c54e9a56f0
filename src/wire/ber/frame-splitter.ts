import { BerError } from './errors.js';

export type FrameResult = Buffer | null;

/**
 * Cuts a byte stream (TCP) into complete top-level BER elements with definite lengths, such as
 * LDAPMessages. Partial elements are buffered until complete, but never beyond `maxFrameSize`:
 * the header announces the length, so an oversized element is refused before its body arrives.
 * Frames are views into the received chunks where an element lies within one chunk (the usual
 * case), so nothing is copied on the hot path.
 */
export class BerFrameSplitter {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(
    private readonly maxFrameSize: number,
    /** The identifier octet every frame must start with (0x30 for an LDAPMessage SEQUENCE). */
    private readonly expectTag?: number,
  ) {}

  /** Bytes received but not yet returned as frames. */
  get pending(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The next complete frame, null when more bytes are needed; throws BerError for a bad or too large header. */
  next(): FrameResult {
    if (this.buffered < 2) return null;
    let first = this.chunks[0]!;
    // The header is at most 6 octets; make it contiguous when a chunk boundary splits it.
    if (first.length < 6 && this.chunks.length > 1) first = this.coalesce();
    const header = readHeader(first, this.expectTag);
    if (header === null) return null;
    const frameLength = header.headerLength + header.contentLength;
    if (frameLength > this.maxFrameSize) throw new BerError('too-large', `element of ${frameLength} bytes exceeds the limit of ${this.maxFrameSize}`);
    if (this.buffered < frameLength) return null;
    if (first.length < frameLength) first = this.coalesce();
    const frame = first.subarray(0, frameLength);
    if (first.length === frameLength) this.chunks.shift();
    else this.chunks[0] = first.subarray(frameLength);
    this.buffered -= frameLength;
    return frame;
  }

  private coalesce(): Buffer {
    const all = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [all];
    return all;
  }
}

/** Identifier and length octets at the start of `bytes`; null when they are not all there yet. */
function readHeader(bytes: Buffer, expectTag: number | undefined): { headerLength: number; contentLength: number } | null {
  const id = bytes[0]!;
  if (expectTag !== undefined && id !== expectTag) throw new BerError('malformed', `identifier 0x${id.toString(16)} where 0x${expectTag.toString(16)} was expected`);
  if ((id & 0x1f) === 0x1f) throw new BerError('malformed', 'high tag numbers are not supported');
  if (bytes.length < 2) return null;
  const first = bytes[1]!;
  if (first < 0x80) return { headerLength: 2, contentLength: first };
  if (first === 0x80) throw new BerError('malformed', 'indefinite length not allowed');
  const count = first & 0x7f;
  if (count > 4) throw new BerError('too-large', `length field of ${count} octets`);
  if (bytes.length < 2 + count) return null;
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + bytes[2 + i]!;
  return { headerLength: 2 + count, contentLength: length };
}
