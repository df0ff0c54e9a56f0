import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { tempDir, testConfig } from '../helpers/env.js';
import { testCertificates } from '../helpers/directory.js';
import { postamt } from '../helpers/process.js';
import { createLogger } from '../../src/core/index.js';
import { startService, type RunningService } from '../../src/roles/index.js';

/** The real CLI, asynchronously: the service it talks to runs in this process. */
const cli = (args: string[], configFile: string, input?: string) => postamt(args, { config: configFile, input });

describe('directory CLI and admin API', () => {
  const d = tempDir();
  let svc: RunningService;
  let base: string;
  let configFile: string;
  let certPem: string;
  before(async () => {
    const config = testConfig(d.path);
    configFile = join(d.path, 'postamt.yaml');
    writeFileSync(configFile, stringify({ dataDir: d.path, log: { level: 'silent' } }));
    svc = await startService(config, createLogger('silent'));
    base = `http://127.0.0.1:${svc.endpoints.http!.port}/api/directory`;
    const [der] = await testCertificates(1);
    certPem = `-----BEGIN CERTIFICATE-----\n${der!.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;
    writeFileSync(join(d.path, 'c.pem'), certPem);
  });
  after(async () => {
    await svc.close();
    d.cleanup();
  });
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${svc.adminToken}` });

  test('CLI: add, show, list, cert add/list/rm, export, rm; bad input answers clearly', async () => {
    let r = await cli(['directory', 'add', '--telematik-id', '5-1', '--name', 'Apotheke Eins', '--mail', 'eins@apo.test', '--attr', 'l=Köln', '--uid', 'apo1'], configFile);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /added uid=apo1,dc=data,dc=vzd/);
    r = await cli(['directory', 'show', '5-1'], configFile);
    assert.match(r.stdout, /^dn: uid=apo1,dc=data,dc=vzd\n/);
    assert.match(r.stdout, /localityName:: S8O2bG4=/);
    r = await cli(['directory', 'cert', 'add', '5-1', join(d.path, 'c.pem')], configFile);
    assert.equal(r.code, 0, r.stderr);
    const fp = /added ([0-9a-f]{64})/.exec(r.stdout)![1]!;
    r = await cli(['directory', 'cert', 'list', 'uid=apo1,dc=data,dc=vzd'], configFile);
    assert.match(r.stdout, new RegExp(fp));
    r = await cli(['directory', 'list', '--filter', '(l=köln)', '--json'], configFile);
    assert.deepEqual((JSON.parse(r.stdout) as { entries: Array<{ uid: string }> }).entries.map((e) => e.uid), ['apo1']);
    r = await cli(['directory', 'export', '--filter', '(mail=eins@apo.test)'], configFile);
    assert.match(r.stdout, /userCertificate;binary:: /);
    const exported = r.stdout;
    r = await cli(['directory', 'cert', 'rm', '5-1', fp.slice(0, 10)], configFile);
    assert.match(r.stdout, /removed 1 certificate/);
    r = await cli(['directory', 'rm', '5-1'], configFile);
    assert.match(r.stdout, /removed uid=apo1/);
    r = await cli(['directory', 'add', '--ldif', '-'], configFile, exported);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /imported 1 new/);
    r = await cli(['directory', 'show', 'nope'], configFile);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no directory entry nope/);
    r = await cli(['directory', 'show', 'uid=a,,dc=x'], configFile);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /"uid=a,,dc=x" is not a DN/);
    r = await cli(['directory', 'list', '--after', 'garbage'], configFile);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /after must be a cursor from an earlier page/);
    r = await cli(['directory', 'list', '--filter', '(broken'], configFile);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /invalid filter/);
    r = await cli(['directory', 'add', '--name', 'X'], configFile);
    assert.equal(r.code, 2);
    r = await cli(['directory', '--help'], configFile);
    for (const c of ['import', 'export', 'list', 'show', 'add', 'rm', 'cert']) assert.match(r.stdout, new RegExp(`\\n  ${c}\\b`));
  });

  test('CLI import: plain progress lines when not a TTY, rejected lines reported, exit 1, nothing applied', async () => {
    const file = join(d.path, 'bad.ldif');
    writeFileSync(file, 'dn: uid=ok1,dc=data,dc=vzd\ntelematikID: 6-1\ndisplayName: OK\n\ndn: uid=bad,dc=data,dc=vzd\ntelematikID: 6-2\n\n');
    let r = await cli(['directory', 'import', file], configFile);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.ldif:5: uid=bad,dc=data,dc=vzd: displayName is required/);
    assert.match(r.stderr, /nothing was imported/);
    assert.match((await cli(['directory', 'show', '6-1'], configFile)).stderr, /no directory entry/);
    r = await cli(['directory', 'import', '--skip-invalid', file], configFile);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /imported 1 new and 0 replaced entries .*\(1 rejected and skipped\)/);
    assert.match(r.stderr, /import: 100% 2 records, 1 rejected/);
  });

  test('admin API: 401 without token; list with filter and cursor, get, add, certificates, delete, import', async () => {
    assert.equal((await fetch(`${base}/entries`)).status, 401);
    const add = await fetch(`${base}/entries`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ uid: 'api1', attributes: { telematikID: '7-1', displayName: 'API Eins', mail: ['api1@x.test'] }, certificates: [certPem] }),
    });
    assert.equal(add.status, 201);
    const created = (await add.json()) as { dn: string; certificates: Array<{ sha256: string }> };
    assert.equal(created.dn, 'uid=api1,dc=data,dc=vzd');
    assert.equal(created.certificates.length, 1);
    const dup = await fetch(`${base}/entries`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ attributes: { telematikID: '7-1', displayName: 'X' } }) });
    assert.equal(dup.status, 409);
    assert.equal((await dup.json() as { status: number }).status, 409);
    const bad = await fetch(`${base}/entries`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ attributes: { telematikID: '7-2' } }) });
    assert.equal(bad.status, 400);
    const got = (await (await fetch(`${base}/entries/7-1?der=1`, { headers: auth() })).json()) as { certificates: Array<{ der: string }> };
    assert.ok(got.certificates[0]!.der.length > 100);
    assert.equal((await fetch(`${base}/entries/uid%3Dnope%2Cdc%3Ddata%2Cdc%3Dvzd`, { headers: auth() })).status, 404);
    const badDn = await fetch(`${base}/entries/${encodeURIComponent('uid=a,,dc=x')}`, { headers: auth() });
    assert.equal(badDn.status, 400);
    assert.match(((await badDn.json()) as { title: string }).title, /is not a DN/);

    const ldif = Array.from({ length: 5 }, (_, k) => `dn: uid=imp${k},dc=data,dc=vzd\ntelematikID: 7-10${k}\ndisplayName: Import ${k}\n`).join('\n');
    const imp = await fetch(`${base}/import`, { method: 'POST', headers: { ...auth(), 'content-type': 'text/ldif' }, body: ldif });
    assert.equal(imp.status, 200);
    assert.equal(((await imp.json()) as { added: number }).added, 5);
    const rejected = await fetch(`${base}/import`, { method: 'POST', headers: { ...auth(), 'content-type': 'text/ldif' }, body: 'dn: uid=x,dc=data,dc=vzd\ntelematikID: 7-100\ndisplayName: clash\n' });
    assert.equal(rejected.status, 422);
    assert.equal(((await rejected.json()) as { rejected: Array<{ line: number }> }).rejected[0]!.line, 1);

    const page1 = (await (await fetch(`${base}/entries?filter=${encodeURIComponent('(displayName=Import*)')}&limit=2`, { headers: auth() })).json()) as { entries: Array<{ uid: string }>; next: string };
    assert.deepEqual(page1.entries.map((e) => e.uid), ['imp0', 'imp1']);
    const page2 = (await (await fetch(`${base}/entries?filter=${encodeURIComponent('(displayName=Import*)')}&limit=2&after=${page1.next}`, { headers: auth() })).json()) as { entries: Array<{ uid: string }>; next: string };
    assert.deepEqual(page2.entries.map((e) => e.uid), ['imp2', 'imp3']);
    assert.equal((await fetch(`${base}/entries?filter=(broken`, { headers: auth() })).status, 400);
    const badCursor = await fetch(`${base}/entries?after=garbage`, { headers: auth() });
    assert.equal(badCursor.status, 400);
    assert.match(((await badCursor.json()) as { title: string }).title, /after must be a cursor from an earlier page/);

    const certAdd = await fetch(`${base}/entries/7-100/certificates`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/x-pem-file' }, body: certPem });
    assert.equal(certAdd.status, 201);
    const list = (await (await fetch(`${base}/entries/7-100/certificates`, { headers: auth() })).json()) as Array<{ sha256: string }>;
    assert.equal(list.length, 1);
    assert.equal((await fetch(`${base}/entries/7-100/certificates/${list[0]!.sha256}`, { method: 'DELETE', headers: auth() })).status, 204);
    assert.equal((await fetch(`${base}/entries/7-100`, { method: 'DELETE', headers: auth() })).status, 204);
    assert.equal((await fetch(`${base}/entries/7-100`, { headers: auth() })).status, 404);
  });

  test('the service feeds the directory: an account registered through the service appears in its entry', async () => {
    await svc.accounts.addDomain('feed.test');
    await svc.accounts.add({ address: 'praxis@feed.test', password: 'long-enough', displayName: 'Feed Praxis', telematikId: '1-4242' });
    const e = (await (await fetch(`${base}/entries/1-4242`, { headers: auth() })).json()) as { attributes: Record<string, string[]> };
    assert.deepEqual(e.attributes.mail, ['praxis@feed.test']);
    assert.deepEqual(e.attributes.komLeData, ['1.5,praxis@feed.test']);
  });

  test('account add through the CLI feeds the directory too', async () => {
    await cli(['domain', 'add', 'cli.test'], configFile);
    const r = await cli(['account', 'add', 'x@cli.test', '--telematik-id', '1-5151', '--name', 'CLI Praxis'], configFile);
    assert.equal(r.code, 0, r.stderr);
    const show = await cli(['directory', 'show', '1-5151', '--json'], configFile);
    assert.deepEqual((JSON.parse(show.stdout) as { attributes: Record<string, string[]> }).attributes.mail, ['x@cli.test']);
    void readFileSync;
  });
});
