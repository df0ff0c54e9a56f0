import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../helpers/env.js';
import { postamtSync } from '../../helpers/process.js';

test('`postamt config check` accepts a good file and names the key in a bad one', () => {
  const d = tempDir();
  try {
    const good = join(d.path, 'good.yaml');
    // The data directory is the service's (checked private); the file beside it is the operator's.
    writeFileSync(good, `dataDir: ${join(d.path, 'data')}\ndatabase:\n  url: postgres://postamt:hunter2@db.example/postamt\nservice:\n  hostname: mail.example\n`);
    const ok = postamtSync(['config', 'check', '-c', good]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /is valid/);
    assert.match(ok.stdout, /postgres:\/\/postamt:\*\*\*@db\.example/);
    assert.doesNotMatch(ok.stdout, /hunter2/, 'the password is redacted');
    const bad = join(d.path, 'bad.yaml');
    writeFileSync(bad, 'service:\n  pop3:\n    idleTimeoutMs: -5\n');
    const res = postamtSync(['config', 'check', '-c', bad]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /service\.pop3\.idleTimeoutMs: /);
  } finally {
    d.cleanup();
  }
});

test('`postamt config check` never prints database.secretKey, from the file or from POSTAMT_SECRET_KEY', () => {
  const d = tempDir();
  try {
    const key = 'file-key-0123456789-0123456789-0123456789';
    const env = 'env-key-0123456789-0123456789-0123456789';
    const f = join(d.path, 'postamt.yaml');
    writeFileSync(f, `dataDir: ${join(d.path, 'data')}\ndatabase:\n  secretKey: ${key}\n`);
    for (const args of [['config', 'check'], ['config', 'check', '--json']]) {
      const fromFile = postamtSync([...args, '-c', f]);
      assert.equal(fromFile.code, 0, fromFile.stderr);
      assert.doesNotMatch(fromFile.stdout + fromFile.stderr, /file-key/);
      const fromEnv = postamtSync([...args, '-c', f], { env: { ...process.env, POSTAMT_SECRET_KEY: env } });
      assert.equal(fromEnv.code, 0, fromEnv.stderr);
      assert.doesNotMatch(fromEnv.stdout + fromEnv.stderr, /env-key|file-key/);
    }
    const json = JSON.parse(postamtSync(['config', 'check', '--json', '-c', f]).stdout) as { database: { secretKey: string } };
    assert.equal(json.database.secretKey, '***');
  } finally {
    d.cleanup();
  }
});

test('`postamt config check` warns about a client module without providers or accounts, and about an account naming a Mandant the Konnektor lacks', () => {
  const d = tempDir();
  try {
    const mandanten = 'konnektor:\n  mandanten:\n    - { id: m-a, clientSystems: [PVS], workplaces: ["*"] }\n';
    const none = join(d.path, 'none.yaml');
    writeFileSync(none, `dataDir: ${join(d.path, 'data')}\n${mandanten}`);
    const r = postamtSync(['config', 'check', '-c', none]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^warning: clientModule\.providers is empty: a client module started with this file refuses every login/m);
    assert.match(r.stderr, /^warning: clientModule\.accounts is empty: a client module started with this file refuses every login/m);
    const wrong = join(d.path, 'wrong.yaml');
    writeFileSync(wrong, `dataDir: ${join(d.path, 'data')}\n${mandanten}clientModule:\n  providers: [{ domain: kim.test }]\n  accounts:\n    - { address: praxis-a@kim.test, contexts: [{ mandant: m-b }] }\n`);
    const w = postamtSync(['config', 'check', '-c', wrong]);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(
      w.stderr,
      "warning: no TLS client certificate for any account: the client module connects to the mail service without one (KOM-LE-A_2182-01 expects the provider's C.CM.TLS-CS; get it by createCert and set clientModule.upstream.clientCertificate or clientModule.accounts[].clientCertificate)\n" +
        'warning: clientModule.accounts[0] (praxis-a@kim.test): Mandant m-b is not in konnektor.mandanten, so logins with it fail at the Konnektor\n',
    );
    // A file for the service alone (no Mandanten) gets no client module warnings.
    const service = join(d.path, 'service.yaml');
    writeFileSync(service, `dataDir: ${join(d.path, 'data')}\n`);
    assert.equal(postamtSync(['config', 'check', '-c', service]).stderr, '');
  } finally {
    d.cleanup();
  }
});

test('KOM-LE-A_2071: `postamt config check` warns about a SOAP Konnektor without client authentication, not with a client certificate or Basic', () => {
  const d = tempDir();
  try {
    const base = `dataDir: ${join(d.path, 'data')}\nkonnektor:\n  type: soap\n  soap:\n    url: https://konnektor.praxis.local/connector.sds\n`;
    const bare = join(d.path, 'bare.yaml');
    writeFileSync(bare, base);
    const warned = postamtSync(['config', 'check', '-c', bare]);
    assert.equal(warned.code, 0, warned.stderr);
    assert.match(warned.stderr, /konnektor\.soap has neither tls\.clientP12 nor basicAuth.*KOM-LE-A_2071/);
    const basic = join(d.path, 'basic.yaml');
    writeFileSync(basic, base + '    basicAuth: { user: kim, password: geheim }\n');
    assert.doesNotMatch(postamtSync(['config', 'check', '-c', basic]).stderr, /client authentication/);
  } finally {
    d.cleanup();
  }
});
