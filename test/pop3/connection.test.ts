import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { Pop3Connection } from '../../src/pop3/connection.js';
import { silentLogger } from '../../src/core/index.js';
import { pop3Fixture, PASSWORD, type Pop3Fixture } from '../helpers/pop3-fixture.js';
import { RawPop3Client, listenOnLoopback } from '../helpers/net.js';
import { poplib, bodyOf } from '../helpers/poplib.js';

/** A message of `lines` short lines, many starting with dots, with 8-bit bytes. */
function bigMessage(lines: number): Buffer {
  const parts = [Buffer.from('Subject: big\r\n\r\n')];
  for (let i = 0; i < lines; i++) {
    const lead = i % 3 === 0 ? '.' : i % 7 === 0 ? '..' : '';
    parts.push(Buffer.from(`${lead}line ${i} `), Buffer.from([0xc3, 0xa4, 0xff]), Buffer.from(' padding padding padding padding\r\n'));
  }
  return Buffer.concat(parts);
}

describe('POP3 writes respect backpressure', () => {
  test('Pop3Connection.write waits for drain: a paused reader does not make the writer buffer', async () => {
    const server = createServer();
    const port = await listenOnLoopback(server);
    const client = connect({ port, host: '127.0.0.1' });
    const [serverSide] = (await once(server, 'connection')) as [Socket];
    const conn = new Pop3Connection(serverSide, 512, 0, silentLogger());
    client.pause();
    const received = createHash('sha256');
    let receivedBytes = 0;
    client.on('data', (d: Buffer) => {
      received.update(d);
      receivedBytes += d.length;
    });

    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const total = 256; // 16 MiB, far more than the kernel buffers hold
    let maxQueued = 0;
    let resumed = false;
    for (let i = 0; i < total; i++) {
      const pending = conn.write(chunk);
      maxQueued = Math.max(maxQueued, serverSide.writableLength);
      // The reader wakes up only once the writer had to wait.
      if (!resumed && serverSide.writableNeedDrain) {
        resumed = true;
        client.resume();
      }
      await pending;
    }
    assert.ok(resumed, 'the writer filled the socket at some point');
    assert.ok(maxQueued <= 2 * chunk.length, `queued ${maxQueued} bytes in user space`);
    serverSide.end();
    await once(client, 'end');
    assert.equal(receivedBytes, total * chunk.length);
    const expected = createHash('sha256');
    for (let i = 0; i < total; i++) expected.update(chunk);
    assert.equal(received.digest('hex'), expected.digest('hex'));
    client.destroy();
    server.close();
  });

  describe('through the server (SQLite)', { concurrency: true }, () => {
    let fx: Pop3Fixture;
    const big = bigMessage(120_000); // about 6 MB
    before(async () => {
      fx = (await pop3Fixture('sqlite'))!;
    });
    after(async () => fx.close());

    test('a 6 MB message with dot lines and 8-bit bytes arrives byte-exact via poplib', async () => {
      const acc = await fx.account();
      await fx.deliver(acc, big);
      const r = await poplib(fx.plainPort, 'stls', acc.address, PASSWORD, [['retr', 1], ['quit']]);
      assert.ok(bodyOf(r.results[0]).equals(big));
    });

    test('a reader that stops reading mid-RETR is cut off by the idle timeout', async () => {
      const acc = await fx.account();
      // Larger than what loopback socket buffers absorb, so the server really has to wait.
      const huge = Buffer.concat([big, big, big, big, big]);
      await fx.deliver(acc, huge);
      const { port } = await fx.server('starttls', { idleTimeoutMs: 200 });
      const c = await RawPop3Client.connect(port);
      await c.line();
      await c.login(acc.address, PASSWORD);
      const released = fx.backend.released(acc.address);
      c.socket.pause();
      c.write('RETR 1\r\n');
      await released;
      // Now read what got through: the response was cut, not finished.
      c.socket.resume();
      const got = await c.rest();
      assert.ok(got.length < huge.length, `received ${got.length} of ${huge.length}`);
      assert.ok(!got.endsWith('\r\n.\r\n'), 'the multi-line response must not look complete');
    });
  });
});
