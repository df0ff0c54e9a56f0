/**
 * Messages between the service and a script agent's child process (script.ts, script-child.ts):
 * JSON, each frame a 4-byte big-endian length and that many bytes. The reader refuses a frame
 * longer than its bound before buffering it, so a script cannot make the service hold an
 * unbounded message. Node built-ins only: the child may read just this file and its own.
 */
import type { Readable } from 'node:stream';

export function encodeFrame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

/**
 * Calls `onMessage` for every frame read from `stream`; `onBad` once (and nothing after) for a
 * frame over `maxBytes` or one that is not JSON.
 */
export function readFrames(stream: Readable, maxBytes: number, onMessage: (m: unknown) => void, onBad: (why: string) => void): void {
  let chunks: Buffer[] = [];
  let buffered = 0;
  let need = -1;
  let broken = false;
  stream.on('data', (chunk: Buffer) => {
    if (broken) return;
    chunks.push(chunk);
    buffered += chunk.length;
    for (;;) {
      if (need < 0) {
        if (buffered < 4) return;
        const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        need = all.readUInt32BE(0);
        if (need > maxBytes) {
          broken = true;
          return onBad(`a message of ${need} bytes, over the limit of ${maxBytes}`);
        }
        chunks = [all.subarray(4)];
        buffered -= 4;
      }
      if (buffered < need) return;
      const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const body = all.subarray(0, need);
      chunks = [all.subarray(need)];
      buffered -= need;
      need = -1;
      let message: unknown;
      try {
        message = JSON.parse(body.toString('utf8'));
      } catch {
        broken = true;
        return onBad('a message that is not JSON');
      }
      onMessage(message);
      if (broken) return;
    }
  });
}
