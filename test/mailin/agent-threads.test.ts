import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { AgentThreads } from '../../src/mailin/agent-threads.js';
import { parseDocument } from '../../src/mailin/document.js';
import { verify } from '../../src/mailin/signature.js';
import type { Agent } from '../../src/mailin/types.js';
import { listenOnLoopback } from '../helpers/net.js';

const MESSAGE = Buffer.from(
  'From: OA <oa@office.test>\r\nTo: approvals@praxis.test\r\nSubject: Approval 4711\r\nX-KIM-Dienstkennung: KIM-Mail;Default;V1.0\r\n' +
    'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGenehmigt.\r\n' +
    '--b\r\nContent-Type: text/csv; name="t.csv"\r\nContent-Disposition: attachment; filename="t.csv"\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
    Buffer.from('id;state\n4711;ok\n').toString('base64') +
    '\r\n--b--\r\n',
);

/** A message whose decoded attachment alone is far over a 32 MB heap. */
function hugeMessage(): Buffer {
  const b64 = Buffer.alloc(48 * 1024 * 1024, 0x41).toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(`From: a@b.test\r\nSubject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n--b--\r\n`);
}

function agent(url: string, timeoutMs = 5000): Agent {
  return { id: 7, dbId: 1, name: 'a', trigger: 'after-delivery', kind: 'webhook', url, secret: 'thread-test-secret-0123', scriptPath: null, timeoutMs, onFailure: 'tempfail', includeRaw: false, createdAt: 0 };
}

const ctx = { uid: 'doc-1', database: 'approvals@praxis.test', mailFrom: 'oa@office.test', rcptTo: ['approvals@praxis.test'], queueId: 'Q1', receivedAt: Date.UTC(2026, 11, 1), raw: Buffer.alloc(0), inlineMaxBytes: 1 << 20, rawMaxBytes: -1 };
const limits = { allowHosts: [], maxResponseBytes: 65536, targets: { allowPrivate: false, allowLoopback: true, ownListeners: [] } };

describe('mail-in threads', () => {
  test('a thread parses exactly as the event loop does, attachments as Buffers', async () => {
    const threads = new AgentThreads(2);
    try {
      const [here, there] = await Promise.all([parseDocument(MESSAGE), threads.parse(MESSAGE)]);
      assert.ok(Buffer.isBuffer(there.attachments[0]!.content));
      assert.deepEqual(there, here);
      assert.equal(there.kim['X-KIM-Dienstkennung'], 'KIM-Mail;Default;V1.0');
    } finally {
      await threads.close();
    }
  });

  test('a message over the heap limit costs its thread, not the service: empty fields, and the next call gets a new thread', async () => {
    const huge = hugeMessage();
    // On the event loop (no heap limit of its own) the same message parses: the limit is what fails it.
    assert.equal((await parseDocument(huge)).subject, 'big');
    // 32 MB, the least mailin.threadHeapMb allows: enough for a thread to parse MESSAGE on every Node.
    const threads = new AgentThreads(1, 32);
    try {
      const doc = await threads.parse(huge);
      assert.equal(doc.subject, '', 'filed with empty parsed fields');
      assert.deepEqual(doc.attachments, []);
      const next = await threads.parse(MESSAGE);
      assert.equal(next.subject, 'Approval 4711');
    } finally {
      await threads.close();
    }
  });

  test('a webhook call from a thread is signed and its answer maps as on the event loop; an unresponsive receiver times out', async () => {
    const seen: Array<{ headers: Record<string, string | string[] | undefined>; body: string }> = [];
    let hang = false;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        if (hang) return; // never answers
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ action: 'file', folder: 'done' }));
      });
    });
    const url = `http://127.0.0.1:${await listenOnLoopback(server)}/hook`;
    const threads = new AgentThreads(1);
    try {
      const doc = await parseDocument(MESSAGE);
      const r = await threads.webhook(agent(url), 'after-delivery', doc, ctx, limits);
      assert.deepEqual(r, { outcome: 'ok', httpStatus: 200, verdict: { action: 'accept', folder: 'done' } });
      const call = seen[0]!;
      const payload = JSON.parse(call.body) as { id: string; subject: string; attachments: Array<{ content: string }> };
      assert.equal(payload.id, 'doc-1');
      assert.equal(payload.subject, 'Approval 4711');
      assert.equal(Buffer.from(payload.attachments[0]!.content, 'base64').toString(), 'id;state\n4711;ok\n');
      assert.ok(verify('thread-test-secret-0123', String(call.headers['x-postamt-timestamp']), call.body, String(call.headers['x-postamt-signature'])));
      hang = true;
      const t = await threads.webhook(agent(url, 300), 'after-delivery', doc, ctx, limits);
      assert.equal(t.outcome, 'timeout');
    } finally {
      await threads.close();
      server.closeAllConnections();
      server.close();
    }
  });
});
