import { mime } from '../../wire/index.js';

/** The message's own header as read from the DATA stream (before our Return-Path and Received). */
export interface TappedHeader {
  /** The header block's bytes, up to and including the empty line (all of it when there is none). */
  bytes: Buffer;
  /** Its fields; none when the block could not be read. */
  fields: readonly mime.HeaderField[];
}

/** A header longer than this is not looked into (the rules then see no fields). */
const MAX_HEADER_BYTES = 256 * 1024;

/**
 * Passes `body` on unchanged, but first holds it back until the message's header is complete
 * and calls `onHeader` with it: a rule that refuses the message (an SmtpReply thrown there)
 * does so before a byte of it is written, and the delivery abandons it as for a broken limit.
 */
export async function* tapHeader(body: AsyncIterable<Buffer>, onHeader: (h: TappedHeader) => void | Promise<void>): AsyncIterable<Buffer> {
  const held: Buffer[] = [];
  let heldBytes = 0;
  let done = false;
  const release = async (): Promise<Buffer[]> => {
    done = true;
    const all = Buffer.concat(held, heldBytes);
    await onHeader(readHeader(all));
    return [all];
  };
  for await (const chunk of body) {
    if (done) {
      yield chunk;
      continue;
    }
    held.push(chunk);
    heldBytes += chunk.length;
    const all = Buffer.concat(held, heldBytes);
    if (headerEnd(all) >= 0 || heldBytes > MAX_HEADER_BYTES) {
      held.length = 0;
      held.push(all);
      for (const c of await release()) yield c;
    }
  }
  if (!done) for (const c of await release()) if (c.length) yield c;
}

/** Offset just past the empty line that ends the header, or -1. A message may start with it. */
function headerEnd(buf: Buffer): number {
  if (buf[0] === 0x0d && buf[1] === 0x0a) return 2;
  if (buf[0] === 0x0a) return 1;
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  const ends = [crlf >= 0 ? crlf + 4 : -1, lf >= 0 ? lf + 2 : -1].filter((e) => e >= 0);
  return ends.length ? Math.min(...ends) : -1;
}

function readHeader(all: Buffer): TappedHeader {
  const end = headerEnd(all);
  const bytes = end >= 0 ? all.subarray(0, end) : all.subarray(0, Math.min(all.length, MAX_HEADER_BYTES));
  try {
    return { bytes, fields: mime.readHeaderBlock(bytes, MAX_HEADER_BYTES).fields };
  } catch {
    return { bytes, fields: [] };
  }
}
