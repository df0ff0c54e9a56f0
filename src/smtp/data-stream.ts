/**
 * smtp-server's DATA intake (`SMTPStream._feedDataStream`) looks for "\n." by reading every
 * byte of the message in a JavaScript loop, and copies every incoming chunk once to put the
 * last four bytes of the one before in front of it. For the 100–200 KB messages of KOM-LE that
 * is one of the biggest costs of receiving (the client module from the primary system, the
 * service from the client module). This replaces it with the same algorithm over native
 * `indexOf` (memchr); it carries bytes to the next chunk only when they could begin a
 * terminator or an escape there, and then joins them with it only around the boundary.
 *
 * The behaviour is the library's, byte for byte: the same escape dots are removed, the same
 * terminator ends data mode (with the same rules at the start of DATA, the smuggling defence),
 * the same remainder goes back to command mode, the same byte count at the end, backpressure
 * the same way. Only the chunking of what the data stream emits, and so the moment bytes are
 * counted, may differ. test/smtp/data-stream.test.ts compares both on many chunkings.
 * Installed by patches.ts, which first checks that the library's fields are still the ones used here.
 */

export type Done = (err?: Error | null) => void;
/** smtp-server's `SMTPStream._feedDataStream`, ours in its place. */
export type FeedDataStream = (this: unknown, chunk: Buffer, done: Done) => void;
interface Internals {
  _dataStream: (NodeJS.WritableStream & { writable: boolean; destroyed: boolean; once(e: string, f: () => void): void; removeListener(e: string, f: () => void): void }) | null;
  _lastBytes: Buffer | false;
  _atDataStart: boolean;
  _countDataBytes(len: number): void;
  _endDataMode(chunk: Buffer | false, remainder: Buffer, done: Done): void;
  _feedDataStream(chunk: Buffer, done: Done): void;
  /**
   * Ours: the chunk before was emitted whole, its tail being unable to start a match (no LF in
   * its last three bytes, no CR last); the next chunk is then searched from its second byte.
   */
  __postamtCleanTail?: boolean;
  /** Ours: `_lastBytes` is a short chunk that came after a clean tail (a dot at its index 1 counts). */
  __postamtCarryFromOne?: boolean;
}

const LF_DOT = Buffer.from('\n.');
const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
/** Below this, a chunk after carried bytes goes the library's way (joined whole: it is small). */
const JOIN_WHOLE_BELOW = 16;

function isTerminatorAt(buf: Buffer, i: number): boolean {
  // "\r\n.\r\n" with the dot at i (i + 2 < buf.length; at i = 1, buf[-1] is undefined: no match).
  return buf[i - 2] === CR && buf[i - 1] === LF && buf[i + 1] === CR && buf[i + 2] === LF;
}

/** Our `_feedDataStream`, falling back on the library's own (`library`) where carried bytes meet a match. */
export function fastFeedDataStream(library: FeedDataStream): FeedDataStream {
  return function feedDataStream(this: Internals, chunk: Buffer, done: Done): void {
    let prev = this._lastBytes && this._lastBytes.length ? this._lastBytes : null;
    let fromOne = this.__postamtCleanTail === true;
    this.__postamtCleanTail = false;
    if (prev && this.__postamtCarryFromOne) {
      // Rare (a chunk of 1–3 bytes after a clean tail): joined whole, searched from index 1.
      chunk = Buffer.concat([prev, chunk]);
      this._lastBytes = false;
      prev = null;
      fromOne = true;
    }
    this.__postamtCarryFromOne = false;
    // Carried bytes before the first payload byte, or before a tiny chunk: the library's code,
    // which joins the two (cheap, they are small).
    if (prev && (this._atDataStart || chunk.length < JOIN_WHOLE_BELOW)) return library.call(this, chunk, done);
    if (this._atDataStart) {
      // The library's start-of-DATA rules: "." alone ends an empty message; ".." is an escaped dot.
      if (chunk.length >= 3 && chunk[0] === DOT && chunk[1] === CR && chunk[2] === LF) return this._endDataMode(false, chunk.subarray(3), done);
      if (chunk.length >= 2 && chunk[0] === DOT && chunk[1] === DOT) {
        chunk = chunk.subarray(1);
        this._atDataStart = false;
      }
    }
    const dataStream = this._dataStream!;
    const p = prev ? prev.length : 0;
    const len = chunk.length;
    // The first index of `chunk` where a line-leading dot is looked for: 2 as in the library; 1
    // after a clean tail (the library would have carried it, and a dot at 1 after "\n" at 0 is
    // one it sees; at 0 none is possible, the tail not ending in LF).
    let from = fromOne ? 1 : 2;
    if (prev) {
      // The joint: the carried bytes (at most 4) and the first 8 of the chunk. A line-leading dot
      // whose checks reach into it (combined index i <= p + 4, i.e. chunk index <= 4) means the
      // library's path; otherwise the carried bytes are plain content.
      const joint = Buffer.concat([prev, chunk.subarray(0, 8)]);
      for (let i = 2; i <= p + 4; i++) {
        if (joint[i] === DOT && joint[i - 1] === LF) return library.call(this, chunk, done);
      }
      from = 5;
      this._lastBytes = false;
    }
    const emitPrev = (): void => {
      if (prev && dataStream.writable) dataStream.write(prev);
    };
    for (let lf = chunk.indexOf(LF_DOT, from - 1); lf !== -1 && lf + 1 < len - 2; lf = chunk.indexOf(LF_DOT, lf + 1)) {
      const i = lf + 1;
      if (isTerminatorAt(chunk, i)) {
        this._countDataBytes(p + i);
        emitPrev();
        this._endDataMode(chunk.subarray(0, i), chunk.subarray(i + 3), done);
        return;
      }
      if (chunk[i + 1] === DOT) {
        const buf = chunk.subarray(0, i);
        this._lastBytes = false;
        this._countDataBytes(p + buf.length);
        emitPrev();
        if (dataStream.writable) dataStream.write(buf);
        const rest = chunk.subarray(i + 1);
        setImmediate(() => this._feedDataStream(rest, done));
        return;
      }
    }
    // Dots at the last two positions were not looked at: a terminator or escape may straddle the
    // next chunk. The library keeps the last four bytes back; that is needed only when one of
    // them can begin a match (an LF in the last three, or a CR last). Otherwise everything goes
    // now, and the next chunk is not copied to join it. (Without carried bytes a chunk shorter
    // than 4 finds nothing and is kept whole, as by the library.)
    if (len < 4) {
      this._lastBytes = chunk;
      this.__postamtCarryFromOne = from === 1;
      return done();
    }
    const clean = chunk[len - 1] !== CR && chunk.indexOf(LF, len - 3) === -1;
    this._lastBytes = clean ? false : chunk.subarray(len - 4);
    this.__postamtCleanTail = clean;
    const buf = clean ? chunk : chunk.subarray(0, len - 4);
    if (buf.length === 0) return done(); // only without carried bytes (with them, len >= 16)
    this._countDataBytes(p + buf.length);
    if (!dataStream.writable) return done();
    emitPrev();
    const handled = dataStream.write(buf);
    if (!handled && !dataStream.destroyed) {
      // A stream that the application destroys never drains, it only closes.
      const onDrain = (): void => {
        dataStream.removeListener('drain', onDrain);
        dataStream.removeListener('close', onDrain);
        done();
      };
      dataStream.once('drain', onDrain);
      dataStream.once('close', onDrain);
    } else done();
  } as FeedDataStream;
}
