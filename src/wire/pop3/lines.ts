/** What the splitter found in the input: a complete line, or a line that exceeded the limit. */
export type LineEvent = { kind: 'line'; line: Buffer } | { kind: 'overflow' };

const LF = 0x0a;
const CR = 0x0d;

/**
 * Cuts a byte stream into lines. CRLF ends a line and so does a bare LF (some clients send
 * it); the terminator is not part of the line. `maxLength` counts the line plus its CRLF, as
 * config.pop3.maxLineLength does.
 *
 * Memory is bounded: at most maxLength-1 bytes of an unfinished line are held. A longer line is
 * reported as one `overflow` event as soon as it is known to be too long, and the rest of it is
 * dropped up to its LF, so a client streaming bytes without a line end cannot grow a buffer.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private partLength = 0;
  private discarding = false;
  private readonly maxContent: number;

  constructor(readonly maxLength: number) {
    if (!Number.isInteger(maxLength) || maxLength < 3) throw new RangeError('maxLength must be an integer >= 3');
    this.maxContent = maxLength - 2;
  }

  /** Bytes held for the current unfinished line. */
  get buffered(): number {
    return this.partLength;
  }

  /** Forgets the unfinished line (after STLS: nothing sent in plaintext may survive). */
  reset(): void {
    this.parts = [];
    this.partLength = 0;
    this.discarding = false;
  }

  push(chunk: Uint8Array): LineEvent[] {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const events: LineEvent[] = [];
    let pos = 0;
    while (pos < buf.length) {
      const lf = buf.indexOf(LF, pos);
      if (this.discarding) {
        if (lf < 0) return events;
        this.discarding = false;
        pos = lf + 1;
        continue;
      }
      if (lf < 0) {
        const tail = buf.subarray(pos);
        // The last byte may be the CR of a CRLF still to come, so it does not count yet.
        if (this.partLength + tail.length - 1 > this.maxContent) {
          this.reset();
          this.discarding = true;
          events.push({ kind: 'overflow' });
        } else {
          // Copy: the caller may reuse its chunk, and a view would pin the whole chunk.
          this.parts.push(Buffer.from(tail));
          this.partLength += tail.length;
        }
        return events;
      }
      const segment = buf.subarray(pos, lf);
      pos = lf + 1;
      const whole = this.partLength === 0 ? segment : Buffer.concat([...this.parts, segment]);
      this.parts = [];
      this.partLength = 0;
      const content = whole.length > 0 && whole[whole.length - 1] === CR ? whole.subarray(0, whole.length - 1) : whole;
      if (content.length > this.maxContent) events.push({ kind: 'overflow' });
      else events.push({ kind: 'line', line: Buffer.from(content) });
    }
    return events;
  }
}
