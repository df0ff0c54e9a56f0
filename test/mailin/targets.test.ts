import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { tempDir, testConfig } from '../helpers/env.js';
import { scriptFolder, startReceiver } from '../helpers/mailin.js';
import { silentLogger } from '../../src/core/index.js';
import { startService, type RunningService } from '../../src/roles/index.js';

const SECRET = 'a-long-shared-secret-0123456789';
const DB = 'approvals@example.test';

interface Service {
  svc: RunningService;
  /** Stops the service and starts it again over the same data with other `mailin.webhook` settings. */
  restart(webhook: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

async function start(webhook: Record<string, unknown>): Promise<Service> {
  const dir = tempDir();
  const config = (w: Record<string, unknown>) => testConfig(dir.path, { mailin: { worker: { pollIntervalMs: 50 }, webhook: w } });
  const s: Service = {
    svc: await startService(config(webhook), silentLogger()),
    restart: async (w) => {
      await s.svc.close();
      s.svc = await startService(config(w), silentLogger());
    },
    close: async () => {
      await s.svc.close();
      dir.cleanup();
    },
  };
  await s.svc.accounts.addDomain('example.test');
  await s.svc.mailin.admin.addDatabase({ address: DB, name: 'OA' });
  return s;
}

async function addAgent(s: Service, body: Record<string, unknown>): Promise<{ status: number; json: any }> {
  const res = await fetch(`http://127.0.0.1:${s.svc.endpoints.http!.port}/api/mailin/${DB}/agents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.svc.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ trigger: 'after-delivery', secret: SECRET, ...body }),
  });
  return { status: res.status, json: await res.json() };
}

async function send(s: Service): Promise<string> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: s.svc.endpoints['smtp-mx']!.port, secure: false, tls: { rejectUnauthorized: false } });
  try {
    return ((await transport.sendMail({ from: 'oa@office.test', to: DB, subject: 'Approval 4711', text: 'ok\n' })) as { response: string }).response;
  } catch (err) {
    return String((err as { response?: string }).response);
  }
}

describe('mail-in webhook targets (issue 17, fault 4)', () => {
  test('each kind of internal target is refused at creation with 400 and a clear text; nothing is stored', async () => {
    const s = await start({});
    try {
      const http = s.svc.endpoints.http!.port;
      const cases: Array<[string, RegExp]> = [
        ['http://169.254.169.254/latest/meta-data/iam/', /169\.254\.169\.254 is a cloud metadata address, which is never called/],
        ['http://[fd00:ec2::254]/latest/meta-data/', /fd00:ec2::254 is a cloud metadata address, which is never called/],
        ['http://metadata.google.internal/computeMetadata/v1/', /metadata\.google\.internal is a cloud metadata name, which is never called/],
        ['http://169.254.10.1/', /link-local address, which is never called/],
        ['http://[fe80::1]/', /link-local address, which is never called/],
        ['http://10.0.0.1/', /10\.0\.0\.1 is a private address, called only with mailin\.webhook\.allowPrivateTargets: true/],
        ['http://192.168.0.1/', /192\.168\.0\.1 is a private address, called only with mailin\.webhook\.allowPrivateTargets: true/],
        ['http://[fd12::1]/', /private address/],
        ['http://0.0.0.0/', /0\.0\.0\.0 is the unspecified address, which is never called/],
        ['http://[::]/', /unspecified address/],
        ['http://224.0.0.1/', /multicast address/],
        ['http://255.255.255.255/', /broadcast address/],
        ['http://2130706433/', /127\.0\.0\.1 is a loopback address, called only with mailin\.webhook\.allowLoopbackTargets: true/],
        ['http://0x7f.1/', /127\.0\.0\.1 is a loopback address/],
        ['http://017700000001/', /127\.0\.0\.1 is a loopback address/],
        ['http://[::ffff:169.254.169.254]/', /\(169\.254\.169\.254\) is a cloud metadata address/],
        ['http://[::1]/', /::1 is a loopback address/],
        ['http://localhost/', /localhost is loopback/],
        [`http://127.0.0.1:${http}/api/mailin`, /own listeners|loopback address/],
      ];
      for (const [url, why] of cases) {
        const r = await addAgent(s, { webhook: url });
        assert.equal(r.status, 400, `${url}: ${JSON.stringify(r.json)}`);
        assert.match(r.json.title, /^--webhook: /, url);
        assert.match(r.json.title, why, url);
      }
      assert.equal((await s.svc.mailin.admin.listAgents()).length, 0);
      // A public target is accepted as before.
      assert.equal((await addAgent(s, { webhook: 'https://erp.praxis.example/hook' })).status, 201);
    } finally {
      await s.close();
    }
  });

  test("with loopback and private targets allowed: those are accepted, and the platform's own listeners are still refused", async () => {
    const s = await start({ allowLoopbackTargets: true, allowPrivateTargets: true });
    try {
      assert.equal((await addAgent(s, { webhook: 'http://10.0.0.1/hook' })).status, 201);
      assert.equal((await addAgent(s, { webhook: 'http://192.168.0.1/hook' })).status, 201);
      const rx = await startReceiver(() => ({ status: 200 }));
      try {
        assert.equal((await addAgent(s, { webhook: rx.url })).status, 201, 'a loopback receiver that is not ours');
      } finally {
        await rx.close();
      }
      for (const [name, e] of Object.entries(s.svc.endpoints)) {
        for (const host of ['127.0.0.1', 'localhost', '[::1]', '[::ffff:127.0.0.1]', '2130706433']) {
          const url = `http://${host}:${e.port}/api/mailin`;
          const r = await addAgent(s, { webhook: url });
          assert.equal(r.status, 400, `${name} ${url}`);
          assert.match(r.json.title, /one of this platform's own listeners, which are never called/, url);
        }
      }
      // Always refused stays refused.
      assert.equal((await addAgent(s, { webhook: 'http://169.254.169.254/' })).status, 400);
      assert.equal((await addAgent(s, { webhook: 'http://metadata.google.internal/' })).status, 400);
    } finally {
      await s.close();
    }
  });

  test('checked again at every call: an agent made while loopback was allowed is refused after the configuration changed, the receiver never called', async () => {
    const s = await start({ allowLoopbackTargets: true });
    const rx = await startReceiver(() => ({ status: 200 }));
    try {
      // By name, so the address is the one the system resolver gives at the call.
      const url = `http://localhost:${rx.port}/hook`;
      assert.equal((await addAgent(s, { trigger: 'before-delivery', webhook: url })).status, 201);
      assert.match(await send(s), /^250 /);
      assert.equal(rx.calls.length, 1);

      await s.restart({ allowLoopbackTargets: false });
      assert.match(await send(s), /^451 4\.3\.0 /);
      const run = (await s.svc.mailin.admin.runs({ limit: 1 })).items[0]!;
      assert.equal(run.outcome, 'failed');
      assert.match(String(run.error), /localhost is loopback: 127\.0\.0\.1 is a loopback address, called only with mailin\.webhook\.allowLoopbackTargets: true/);
      assert.equal(rx.calls.length, 1, 'the receiver was not called again');
    } finally {
      await rx.close();
      await s.close();
    }
  });

  test("a script's api.http follows the same policy: the admin API on loopback is refused, an allowed receiver is reached", async () => {
    const s = await start({ allowLoopbackTargets: true });
    const rx = await startReceiver(() => ({ status: 200, body: 'fine' }));
    const folder = scriptFolder();
    try {
      const admin = `http://127.0.0.1:${s.svc.endpoints.http!.port}/api/mailin`;
      const path = folder.write(
        'agent.mjs',
        `export default async function (doc, api) {
           const tryCall = async (url) => { try { return String((await api.http(url)).status); } catch (e) { return e.message; } };
           api.setHeader('X-Own', await tryCall(${JSON.stringify(admin)}));
           api.setHeader('X-Metadata', await tryCall('http://169.254.169.254/latest/meta-data/'));
           api.setHeader('X-Receiver', await tryCall(${JSON.stringify(rx.url)}));
         }`,
      );
      await s.svc.mailin.admin.addAgent(DB, { trigger: 'before-delivery', script: path });
      assert.match(await send(s), /^250 /);
      const doc = (await s.svc.mailin.admin.documents(DB)).items[0]!;
      const raw = (await (await s.svc.mailin.admin.document(DB, String(doc.id))).raw()).toString();
      assert.match(raw, /\r\nX-Own: 127\.0\.0\.1 port \d+ is one of this platform's own listeners, which are never called\r\n/);
      assert.match(raw, /\r\nX-Metadata: 169\.254\.169\.254 is a cloud metadata address, which is never called\r\n/);
      assert.match(raw, /\r\nX-Receiver: 200\r\n/);
      assert.equal(rx.calls.length, 1);
    } finally {
      await rx.close();
      await s.close();
      folder.cleanup();
    }
  });
});
