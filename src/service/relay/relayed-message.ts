import type { Readable } from 'node:stream';
import type { BlobStore } from '../../store/index.js';
import type { StreamedMessage } from '../../smtp/index.js';
import { withoutReturnPath } from '../../wire/smtp/index.js';

/** What of a message's start is held when it is streamed: enough for Return-Path and a bounce's header. */
const HEAD_BYTES = 256 * 1024;

export interface RelayedMessage {
  /** What goes to the peer: our Return-Path taken off (the peer adds its own). */
  data: Uint8Array | StreamedMessage;
  /** The stored message's start (all of it when it was read whole), for a bounce's copy of the header. */
  head: Buffer;
}

/**
 * The queued message as the relay sends it: read whole up to `streamAboveBytes`, else
 * streamed from the blob store for each transaction (a relay may try several hosts), so a
 * 50 MB message costs one chunk of memory, not 50 MB, on the node that relays it.
 */
export async function relayedMessage(blobs: BlobStore, blob: { hash: string; size: number }, streamAboveBytes: number): Promise<RelayedMessage> {
  if (blob.size <= streamAboveBytes) {
    const whole = await blobs.get(blob.hash, blob.size);
    return { data: withoutReturnPath(whole), head: whole };
  }
  const head = await readHead(await blobs.stream(blob.hash), Math.min(HEAD_BYTES, blob.size));
  const skip = head.length - withoutReturnPath(head).length;
  return {
    head,
    data: { size: blob.size - skip, open: async () => skipBytes(await blobs.stream(blob.hash), skip) },
  };
}

/** The first `n` bytes of a stream, which is then closed. */
async function readHead(stream: Readable, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  try {
    for await (const c of stream as AsyncIterable<Buffer>) {
      parts.push(c);
      have += c.length;
      if (have >= n) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts).subarray(0, n);
}

/** The stream without its first `n` bytes. */
async function* skipBytes(stream: Readable, n: number): AsyncIterable<Uint8Array> {
  let left = n;
  for await (const c of stream as AsyncIterable<Buffer>) {
    if (left >= c.length) {
      left -= c.length;
      continue;
    }
    yield left > 0 ? c.subarray(left) : c;
    left = 0;
  }
}
