import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { tempDir } from '../helpers/env.js';
import { join } from 'node:path';
import { listenOnLoopback } from '../helpers/net.js';
import { scriptFolder, startReceiver, type Receiver } from '../helpers/mailin.js';
import { runScript, type ScriptLimits } from '../../src/mailin/script.js';
import { sandboxCapabilities, scriptUser, type SandboxCapabilities } from '../../src/mailin/script-sandbox.js';
import type { Agent, DocumentPayload, MailinHttpLimits } from '../../src/mailin/types.js';

const LIMITS: ScriptLimits = { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8, stackSizeMb: 4, maxMemoryMb: 256, maxMessageBytes: 1024 * 1024, maxHttpInFlight: 2, allowNetwork: [], runAs: scriptUser('nobody') };
const HTTP: MailinHttpLimits = { allowHosts: [], maxResponseBytes: 65536, targets: { allowPrivate: false, allowLoopback: true, ownListeners: [] } };
const DOC = { id: 'doc-1', subject: 'Approval 4711', text: 'ok' } as unknown as DocumentPayload;

function agent(scriptPath: string, timeoutMs = 5000): Agent {
  return { id: 1, dbId: 1, name: 's', trigger: 'before-delivery', kind: 'script', url: null, secret: null, scriptPath, timeoutMs, onFailure: 'tempfail', includeRaw: false, createdAt: 0 };
}

/** Whether a process exists (a zombie counts: it has not been reaped). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('script agents in a child process (issue 17, fault 5)', () => {
  const dir = scriptFolder();
  let caps: SandboxCapabilities;
  let rx: Receiver;
  const script = (name: string, code: string): string => dir.write(name, code);
  before(async () => {
    caps = await sandboxCapabilities();
    rx = await startReceiver((c) => ({ status: 200, body: { seen: (c.json as { subject?: string }).subject } }));
  });
  after(async () => {
    await rx.close();
    dir.cleanup();
  });

  test('a normal script: verdict, headers, folder and api.http through the service; its own process, gone afterwards', async () => {
    const path = script(
      'ok.mjs',
      `export default async function (doc, api) {
         const r = await api.http(${JSON.stringify(rx.url)}, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ subject: doc.subject }) });
         api.setHeader('X-Seen', JSON.parse(r.text).seen);
         api.setHeader('X-Trigger', api.trigger);
         api.setHeader('X-Pid', String(process.pid));
         api.file('approved');
       }`,
    );
    const r = await runScript(agent(path), 'before-delivery', DOC, LIMITS, HTTP);
    assert.equal(r.outcome, 'ok', r.error);
    assert.deepEqual(r.verdict, { action: 'accept', folder: 'approved', headers: { 'X-Seen': 'Approval 4711', 'X-Trigger': 'before-delivery', 'X-Pid': (r.verdict as { headers: Record<string, string> }).headers['X-Pid'] } });
    const pid = Number((r.verdict as { headers: Record<string, string> }).headers['X-Pid']);
    assert.notEqual(pid, process.pid, 'not this process');
    assert.ok(!alive(pid), 'the process is gone when the run answers');
    assert.equal(rx.calls.length, 1);
    // api.http keeps the target policy: metadata is refused to the script.
    const meta = script('meta.mjs', `export default async (doc, api) => { try { await api.http('http://169.254.169.254/'); } catch (e) { api.setHeader('X-Err', e.message); } };`);
    const m = await runScript(agent(meta), 'before-delivery', DOC, LIMITS, HTTP);
    assert.match(String((m.verdict as { headers: Record<string, string> }).headers['X-Err']), /cloud metadata address, which is never called/);
  });

  test('an infinite loop is killed at its time limit (timeout), the process gone', async () => {
    const path = script('loop.mjs', `export default (doc, api) => { api.setHeader('x', '1'); for (;;) {} };`);
    const t0 = Date.now();
    const r = await runScript(agent(path, 500), 'before-delivery', DOC, LIMITS, HTTP);
    const took = Date.now() - t0;
    assert.equal(r.outcome, 'timeout');
    assert.match(String(r.error), /longer than 500 ms/);
    assert.ok(took >= 480 && took < 3000, `took ${took} ms`);
  });

  test('heap growth stops at the V8 heap limit: outcome memory', async () => {
    const path = script('heap.mjs', `export default () => { const keep = []; for (;;) keep.push(new Array(100000).fill({ x: Math.random() })); };`);
    const r = await runScript(agent(path, 20_000), 'before-delivery', DOC, LIMITS, HTTP);
    assert.equal(r.outcome, 'memory', r.error);
    assert.match(String(r.error), /over its memory limit \(256 MB above Node's start, 32 MB heap\)/);
  });

  test('Buffers (memory outside the JavaScript heap) stop at the process limit: outcome memory, the service does not grow', async (t) => {
    if (!caps.rlimit) return t.skip('this host cannot set RLIMIT_DATA (no prlimit, no sh ulimit)');
    // 4 GiB in 16 MiB Buffers, each written so that its pages are real.
    const path = script('buffers.mjs', `export default () => { const keep = []; for (let i = 0; i < 256; i++) keep.push(Buffer.alloc(16 * 1024 * 1024, 1)); };`);
    const rss0 = process.memoryUsage().rss;
    const r = await runScript(agent(path, 20_000), 'before-delivery', DOC, LIMITS, HTTP);
    const grew = process.memoryUsage().rss - rss0;
    assert.equal(r.outcome, 'memory', r.error);
    assert.ok(grew < 64 * 1024 * 1024, `the service grew by ${Math.round(grew / 1048576)} MiB`);
  });

  test('no network of its own: a connection to a loopback listener fails and the listener sees nothing; granted by mailin.script.allowNetwork', async (t) => {
    if (!caps.netns) return t.skip('this host allows no network namespace (unshare -n needs root, unshare -rn user namespaces)');
    let connections = 0;
    const server = createServer((s) => {
      connections++;
      s.destroy();
    });
    const port = await listenOnLoopback(server);
    try {
      const code = `import net from 'node:net';
        export default (doc, api) => new Promise((resolve) => {
          const s = net.connect(${port}, '127.0.0.1');
          s.on('connect', () => { api.setHeader('X-Net', 'connected'); s.destroy(); resolve(); });
          s.on('error', (e) => { api.setHeader('X-Net', e.code); resolve(); });
        });`;
      const path = script('net.mjs', code);
      const r = await runScript(agent(path), 'before-delivery', DOC, LIMITS, HTTP);
      assert.equal(r.outcome, 'ok', r.error);
      assert.equal((r.verdict as { headers: Record<string, string> }).headers['X-Net'], 'ENETUNREACH');
      assert.equal(connections, 0, 'the listener saw no connection');
      // The grant: this one file (or a folder ending in /).
      const granted = await runScript(agent(path), 'before-delivery', DOC, { ...LIMITS, allowNetwork: [path] }, HTTP);
      assert.equal((granted.verdict as { headers: Record<string, string> }).headers['X-Net'], 'connected');
      assert.equal(connections, 1);
      const other = await runScript(agent(path), 'before-delivery', DOC, { ...LIMITS, allowNetwork: [join(dir.path, 'other.mjs'), '/etc/postamt/agents/'] }, HTTP);
      assert.equal((other.verdict as { headers: Record<string, string> }).headers['X-Net'], 'ENETUNREACH');
      assert.equal(connections, 1);
    } finally {
      server.close();
    }
  });

  test('nothing survives the run: an interval, a listening socket and a pending timer die with the process', async () => {
    const path = script(
      'leftovers.mjs',
      `import net from 'node:net';
       export default (doc, api) => {
         setInterval(() => {}, 5);
         setTimeout(() => {}, 60_000);
         net.createServer().listen(0);
         api.setHeader('X-Pid', String(process.pid));
       };`,
    );
    const r = await runScript(agent(path), 'before-delivery', DOC, LIMITS, HTTP);
    assert.equal(r.outcome, 'ok', r.error);
    const pid = Number((r.verdict as { headers: Record<string, string> }).headers['X-Pid']);
    assert.ok(pid > 0);
    assert.ok(!alive(pid), `process ${pid} is gone when the run answers`);
  });

  test('the permission model: no files outside its folder, no child processes, no workers, no addons, none of the service environment', async (t) => {
    if (!caps.permissionFlag) return t.skip(`Node ${process.version} has no permission model`);
    process.env.POSTAMT_TEST_SECRET = 'not for scripts';
    try {
      const path = script(
        'escape.mjs',
        `import fs from 'node:fs';
         const attempt = async (name, api, f) => { try { await f(); api.setHeader(name, 'allowed'); } catch (e) { api.setHeader(name, String(e.code ?? e.message)); } };
         export default async (doc, api) => {
           await attempt('X-Read-Etc', api, () => fs.readFileSync('/etc/passwd'));
           await attempt('X-Read-Own', api, () => fs.readFileSync(new URL(import.meta.url)));
           await attempt('X-Write', api, () => fs.writeFileSync(new URL('./written.txt', import.meta.url), 'x'));
           await attempt('X-Spawn', api, async () => (await import('node:child_process')).execFileSync('/bin/true'));
           await attempt('X-Worker', api, async () => new (await import('node:worker_threads')).Worker('0', { eval: true }));
           await attempt('X-Binding', api, () => process.binding('fs'));
           api.setHeader('X-Env', Object.keys(process.env).filter((k) => k.startsWith('POSTAMT')).join(',') || 'none');
         };`,
      );
      const r = await runScript(agent(path), 'before-delivery', DOC, LIMITS, HTTP);
      assert.equal(r.outcome, 'ok', r.error);
      assert.deepEqual((r.verdict as { headers: Record<string, string> }).headers, {
        'X-Read-Etc': 'ERR_ACCESS_DENIED',
        'X-Read-Own': 'allowed',
        'X-Write': 'ERR_ACCESS_DENIED',
        'X-Spawn': 'ERR_ACCESS_DENIED',
        'X-Worker': 'ERR_ACCESS_DENIED',
        'X-Binding': 'ERR_ACCESS_DENIED',
        'X-Env': 'none',
      });
    } finally {
      delete process.env.POSTAMT_TEST_SECRET;
    }
  });

  test('run by root, the script runs as mailin.script.user (nobody): root-only files and sockets stay closed, in its folder too, with or without network', async (t) => {
    if (!LIMITS.runAs) return t.skip('the tests do not run as root');
    const private_ = tempDir();
    const sock = join(private_.path, 'daemon.sock');
    let connections = 0;
    const daemon = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => daemon.listen(sock, r));
    try {
      const secret = join(dir.path, 'secret.txt');
      writeFileSync(secret, 'root only', { mode: 0o600 });
      chmodSync(private_.path, 0o700);
      const path = script(
        'user.mjs',
        `import fs from 'node:fs';
         import net from 'node:net';
         export default async (doc, api) => {
           api.setHeader('X-Uid', String(process.getuid()));
           try { fs.readFileSync(${JSON.stringify(secret)}); api.setHeader('X-Secret', 'read'); } catch (e) { api.setHeader('X-Secret', e.code); }
           await new Promise((resolve) => {
             const s = net.connect(${JSON.stringify(sock)});
             s.on('connect', () => { api.setHeader('X-Sock', 'connected'); s.destroy(); resolve(); });
             s.on('error', (e) => { api.setHeader('X-Sock', e.code); resolve(); });
           });
         };`,
      );
      for (const allowNetwork of [[], [path]]) {
        const r = await runScript(agent(path), 'before-delivery', DOC, { ...LIMITS, allowNetwork }, HTTP);
        assert.equal(r.outcome, 'ok', r.error);
        assert.deepEqual((r.verdict as { headers: Record<string, string> }).headers, { 'X-Uid': String(LIMITS.runAs.uid), 'X-Secret': 'EACCES', 'X-Sock': 'EACCES' }, `network ${allowNetwork.length ? 'granted' : 'not granted'}`);
      }
      assert.equal(connections, 0, 'the unix socket saw no connection');
    } finally {
      daemon.close();
      private_.cleanup();
    }
  });

  test('run by root with a runtime mailin.script.user cannot execute (a 0700 folder): the run fails naming the runtime, the user and the setting', async (t) => {
    if (!LIMITS.runAs) return t.skip('the tests do not run as root');
    // A copy of this Node in a folder only root may enter, running runScript itself: the
    // script's process is then started from there, as nobody.
    const hidden = tempDir();
    chmodSync(hidden.path, 0o700);
    try {
      const node = join(hidden.path, 'node');
      copyFileSync(process.execPath, node);
      chmodSync(node, 0o755);
      const path = script('never.mjs', 'export default () => {};');
      const driver = `import { runScript } from ${JSON.stringify(new URL('../../src/mailin/script.js', import.meta.url).href)};
        const r = await runScript(${JSON.stringify(agent(path))}, 'before-delivery', { id: 'd', subject: 's', text: '' }, ${JSON.stringify(LIMITS)}, ${JSON.stringify(HTTP)});
        process.stdout.write(JSON.stringify(r));`;
      const out = await new Promise<string>((resolve, reject) =>
        execFile(node, ['--input-type=module', '-e', driver], { timeout: 20000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
      );
      const r = JSON.parse(out) as { outcome: string; error: string };
      assert.equal(r.outcome, 'failed');
      assert.match(r.error, new RegExp(`^the script's runtime ${node} could not be executed as nobody \\(exit code 12[67]\\): .*mailin\\.script\\.user$`));
    } finally {
      hidden.cleanup();
    }
  });

  test('bounded messages: a request over maxMessageBytes fails the run; api.http calls beyond maxHttpInFlight are refused', async () => {
    const big = script('big.mjs', `export default (doc, api) => api.http(${JSON.stringify(rx.url)}, { method: 'POST', body: 'x'.repeat(2 * 1024 * 1024) });`);
    const r = await runScript(agent(big), 'before-delivery', DOC, LIMITS, HTTP);
    assert.equal(r.outcome, 'failed');
    assert.match(String(r.error), /sent a message of \d+ bytes, over the limit of 1048576 \(mailin\.script\.maxMessageBytes\)/);
    // A receiver that never answers keeps the first two calls open; the third is answered at once.
    const hang = await startReceiver(() => 'hang');
    try {
      const many = script(
        'many.mjs',
        `export default async (doc, api) => {
           const calls = [1, 2, 3].map(() => api.http(${JSON.stringify(hang.url)}).then((r) => String(r.status), (e) => e.message));
           api.setHeader('X-First', await Promise.race(calls));
         };`,
      );
      const m = await runScript(agent(many), 'before-delivery', DOC, LIMITS, HTTP);
      assert.equal(m.outcome, 'ok', m.error);
      assert.equal((m.verdict as { headers: Record<string, string> }).headers['X-First'], 'more than 2 api.http calls at once (mailin.script.maxHttpInFlight)');
    } finally {
      await hang.close();
    }
  });

  test('a script that throws, or exits the process, fails the run with its message', async () => {
    const thrower = script('throw.mjs', `export default () => { throw new Error('no approval number'); };`);
    const r = await runScript(agent(thrower), 'before-delivery', DOC, LIMITS, HTTP);
    assert.deepEqual(r, { outcome: 'failed', error: 'the script failed: no approval number' });
    const exiter = script('exit.mjs', `export default () => process.exit(3);`);
    const e = await runScript(agent(exiter), 'before-delivery', DOC, LIMITS, HTTP);
    assert.equal(e.outcome, 'failed');
    assert.match(String(e.error), /ended \(exit code 3\) without a verdict/);
  });
});
