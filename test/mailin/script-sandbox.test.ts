import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { testConfig } from '../helpers/env.js';
import { scriptFolder } from '../helpers/mailin.js';
import { listenOnLoopback } from '../helpers/net.js';
import { until } from '../helpers/wait.js';
import { createLogger } from '../../src/core/index.js';
import { AgentRunner } from '../../src/mailin/runner.js';
import { runScript, type ScriptLimits } from '../../src/mailin/script.js';
import { CHILD_FILES, childCommand, networkGranted, probeSandbox, sandboxCapabilities, scriptUser, type SandboxCapabilities } from '../../src/mailin/script-sandbox.js';
import type { Agent, DocumentPayload, MailinHttpLimits } from '../../src/mailin/types.js';

const LIMITS: ScriptLimits = { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8, stackSizeMb: 4, maxMemoryMb: 256, maxMessageBytes: 1024 * 1024, maxHttpInFlight: 2, allowNetwork: [] };
const HTTP: MailinHttpLimits = { allowHosts: [], maxResponseBytes: 65536, targets: { allowPrivate: false, allowLoopback: false, ownListeners: [] } };
const DOC = { id: 'doc-1', subject: 'x' } as unknown as DocumentPayload;
const CHILD = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16, stackSizeMb: 4, maxMemoryMb: 256, cpuSeconds: 6 };
const NONE: SandboxCapabilities = { netns: null, rlimit: null, permissionFlag: null, runtimeDataMb: 0, missing: [] };

function agent(scriptPath: string): Agent {
  return { id: 1, dbId: 1, name: 's', trigger: 'before-delivery', kind: 'script', url: null, secret: null, scriptPath, timeoutMs: 5000, onFailure: 'tempfail', includeRaw: false, createdAt: 0 };
}

describe('script sandbox: what the host allows, and the fallbacks', () => {
  const dir = scriptFolder();
  after(() => dir.cleanup());
  const script = (name: string, code: string): string => dir.write(name, code);

  test('the command line: namespace, limits, then node with the permission model reading only the child files and the folder', () => {
    // RLIMIT_DATA: maxMemoryMb on top of what the runtime has at start (here 48 MB, Node 20's).
    const full: SandboxCapabilities = { netns: ['/usr/bin/unshare', '-n'], rlimit: { kind: 'prlimit', path: '/usr/bin/prlimit' }, permissionFlag: '--experimental-permission', runtimeDataMb: 48, missing: [] };
    const c = childCommand(full, CHILD, '/etc/postamt/agents', false);
    assert.equal(c.file, '/usr/bin/unshare');
    assert.deepEqual(c.args.slice(0, 5), ['-n', '/usr/bin/prlimit', `--data=${(256 + 48) * 1024 * 1024}`, '--cpu=6', '--']);
    assert.deepEqual(c.args.slice(5), [
      process.execPath,
      '--experimental-permission',
      `--allow-fs-read=${CHILD_FILES[0]}`,
      `--allow-fs-read=${CHILD_FILES[1]}`,
      '--allow-fs-read=/etc/postamt/agents',
      '--no-addons',
      '--max-old-space-size=64',
      '--max-semi-space-size=5',
      '--stack-size=4096',
      CHILD_FILES[0],
    ]);
    // Granted the network: no namespace; the limits stay.
    assert.equal(childCommand(full, CHILD, '/etc/postamt/agents', true).file, '/usr/bin/prlimit');
    const shell = childCommand({ ...full, netns: ['/usr/bin/unshare', '-rn'], rlimit: { kind: 'ulimit', path: '/bin/sh' } }, CHILD, '/a', false);
    assert.deepEqual(shell.args.slice(0, 4), ['-rn', '/bin/sh', '-c', `ulimit -d ${(256 + 48) * 1024} && ulimit -t 6 && exec "$0" "$@"`]);
    assert.deepEqual(childCommand(NONE, CHILD, '/a', false), { file: process.execPath, args: ['--no-addons', '--max-old-space-size=64', '--max-semi-space-size=5', '--stack-size=4096', CHILD_FILES[0]] });
    // Another account: root's unshare -n changes to it inside; otherwise the spawn does.
    const nobody = { name: 'nobody', uid: 65534, gid: 65534 };
    const asNobody = childCommand(full, CHILD, '/a', false, nobody);
    assert.deepEqual([asNobody.file, ...asNobody.args.slice(0, 5), asNobody.uid], ['/usr/bin/unshare', '-n', '-S', '65534', '-G', '65534', undefined]);
    assert.deepEqual([childCommand(full, CHILD, '/a', true, nobody).uid, childCommand(full, CHILD, '/a', true, nobody).gid], [65534, 65534]);
    assert.equal(childCommand({ ...full, netns: ['/usr/bin/unshare', '-rn'] }, CHILD, '/a', false, nobody).uid, 65534);
    assert.equal(scriptUser('nobody', false), null, 'not root: the service user');
    assert.equal(scriptUser('', true), null, '"" keeps root');
    assert.deepEqual(scriptUser('1234:99', true), { name: '1234:99', uid: 1234, gid: 99 });
    assert.deepEqual(scriptUser('4321', true), { name: '4321', uid: 4321, gid: 4321 });
    assert.throws(() => scriptUser('no-such-user-here', true), /mailin\.script\.user: no user no-such-user-here in \/etc\/passwd/);
    assert.ok(networkGranted('/etc/postamt/agents/erp.mjs', ['/etc/postamt/agents/']));
    assert.ok(networkGranted('/etc/postamt/erp.mjs', ['/etc/postamt/erp.mjs']));
    assert.ok(!networkGranted('/etc/postamt/agents-evil/x.mjs', ['/etc/postamt/agents/']));
    assert.ok(!networkGranted('/etc/postamt/erp.mjs.bak', ['/etc/postamt/erp.mjs']));
  });

  test('probing: what this host has; each missing tool named', async () => {
    const here = await sandboxCapabilities();
    assert.ok(here.rlimit, 'util-linux prlimit or sh');
    // Measured from /proc: tens of MB on Node 20, over 500 on Node 24 (its reserved code range).
    assert.ok(here.runtimeDataMb >= 16 && here.runtimeDataMb < 4096, `runtime start size ${here.runtimeDataMb} MB`);
    if (process.getuid?.() === 0) assert.deepEqual(here.netns?.slice(1), ['-n'], 'root gets unshare -n');
    const nothing = await probeSandbox({ unshare: null, prlimit: null, shell: null, permissionFlags: new Set() });
    assert.deepEqual([nothing.netns, nothing.rlimit, nothing.permissionFlag, nothing.runtimeDataMb], [null, null, null, 0]);
    assert.equal(nothing.missing.length, 3);
    assert.match(nothing.missing.join('\n'), /scripts can open network connections[\s\S]*Buffers\) is not bounded[\s\S]*no permission model/);
    const shellOnly = await probeSandbox({ unshare: '/nonexistent/unshare', prlimit: null, shell: '/bin/sh', permissionFlags: new Set(['--permission']) });
    assert.deepEqual(shellOnly.rlimit, { kind: 'ulimit', path: '/bin/sh' });
    assert.equal(shellOnly.runtimeDataMb, here.runtimeDataMb);
    assert.equal(shellOnly.permissionFlag, '--permission');
    assert.equal(shellOnly.missing.length, 1);
  });

  test('every way of bounding that this host offers works: Buffers stop at the limit (and not below it), the network is unreachable', async (t) => {
    const here = await sandboxCapabilities();
    const unshare = here.netns?.[0];
    const variants: Array<[string, SandboxCapabilities]> = [];
    const measured = { runtimeDataMb: here.runtimeDataMb };
    if (here.rlimit?.kind === 'prlimit') variants.push(['prlimit', { ...NONE, ...measured, rlimit: here.rlimit }]);
    variants.push(['sh ulimit', { ...NONE, ...measured, rlimit: { kind: 'ulimit', path: '/bin/sh' } }]);
    if (unshare && process.getuid?.() === 0) variants.push(['unshare -n', { ...NONE, netns: [unshare, '-n'] }]);
    if (unshare) variants.push(['unshare -rn', { ...NONE, netns: [unshare, '-rn'] }]);
    const buffers = script('buffers.mjs', `export default () => { const keep = []; for (let i = 0; i < 256; i++) keep.push(Buffer.alloc(16 * 1024 * 1024, 1)); };`);
    // 128 MiB of written Buffers, half of LIMITS.maxMemoryMb: within the allowance on every Node.
    const within = script('within.mjs', `export default (doc, api) => { const keep = []; for (let i = 0; i < 8; i++) keep.push(Buffer.alloc(16 * 1024 * 1024, 1)); api.file('kept-' + keep.length); };`);
    let connections = 0;
    const server = createServer((s) => {
      connections++;
      s.destroy();
    });
    const port = await listenOnLoopback(server);
    const net = script(
      'net.mjs',
      `import net from 'node:net';
       export default (doc, api) => new Promise((resolve) => {
         const s = net.connect(${port}, '127.0.0.1');
         s.on('connect', () => { api.setHeader('X-Net', 'connected'); s.destroy(); resolve(); });
         s.on('error', (e) => { api.setHeader('X-Net', e.code); resolve(); });
       });`,
    );
    try {
      for (const [name, caps] of variants) {
        if (caps.netns && spawnSync(caps.netns[0]!, [caps.netns[1]!, '/bin/true']).status !== 0) {
          t.diagnostic(`${name}: not allowed on this host`);
          continue;
        }
        if (caps.rlimit) {
          const r = await runScript(agent(buffers), 'before-delivery', DOC, LIMITS, HTTP, Promise.resolve(caps));
          assert.equal(r.outcome, 'memory', `${name}: ${r.error}`);
          assert.deepEqual(await runScript(agent(within), 'before-delivery', DOC, LIMITS, HTTP, Promise.resolve(caps)), { outcome: 'ok', verdict: { action: 'accept', folder: 'kept-8' } }, name);
        }
        if (caps.netns) {
          const r = await runScript(agent(net), 'before-delivery', DOC, LIMITS, HTTP, Promise.resolve(caps));
          assert.equal((r.verdict as { headers: Record<string, string> } | undefined)?.headers['X-Net'], 'ENETUNREACH', `${name}: ${JSON.stringify(r)}`);
        }
      }
      assert.equal(connections, 0);
    } finally {
      server.close();
    }
  });

  test('with nothing available a script still runs, and the service says once what is missing', async () => {
    const ok = script('ok.mjs', `export default (doc, api) => api.file('x');`);
    assert.deepEqual(await runScript(agent(ok), 'before-delivery', DOC, LIMITS, HTTP, Promise.resolve(NONE)), { outcome: 'ok', verdict: { action: 'accept', folder: 'x' } });
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const missing = await probeSandbox({ unshare: null, prlimit: null, shell: null, permissionFlags: new Set() });
    const runner = new AgentRunner(testConfig(dir.path).mailin, [], createLogger('info', sink), Promise.resolve(missing));
    try {
      await until('the warning', () => lines.length > 0);
      const line = JSON.parse(lines[0]!) as { level: number; msg: string; missing: string[] };
      assert.equal(line.level, 40);
      assert.equal(line.msg, 'script agents run with fewer operating-system limits than intended');
      assert.equal(line.missing.length, 3);
    } finally {
      await runner.close();
    }
  });
});
