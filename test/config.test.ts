import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadConfig, parseConfig } from '../src/config/index.js';
import { UsageError } from '../src/core/index.js';
import { tempDir } from './helpers/env.js';

describe('config', () => {
  test('an empty file is a complete configuration with safe defaults', () => {
    const c = parseConfig({}, 'test', {}, '/srv/postamt');
    assert.equal(c.dataDir, '/srv/postamt/data');
    assert.equal(c.database.url, 'sqlite:postamt.db');
    assert.equal(c.service.smtp.maxMessageSize, 40 * 1024 * 1024);
    assert.equal(c.service.smtp.mx.host, '127.0.0.1');
    assert.equal(c.service.pop3.maxAuthFailures, 3);
  });

  test('a wrong value names the key and what is wrong', () => {
    assert.throws(
      () => parseConfig({ service: { smtp: { maxMessageSize: 'big' } } }, 'postamt.yaml', {}),
      (err: Error) => err instanceof UsageError && /postamt\.yaml: service\.smtp\.maxMessageSize: .*number/i.test(err.message),
    );
    assert.throws(() => parseConfig({ service: { pop3: { tls: { port: 70000 } } } }, 'f', {}), /service\.pop3\.tls\.port/);
    assert.throws(() => parseConfig({ directory: { processes: 0 } }, 'f', {}), /directory\.processes/);
    // A_23165: what the PS gets after a failed integrity check is one of three modes, default replace.
    assert.equal(parseConfig({}, 'f', {}).clientModule.integrityFailure, 'replace');
    assert.equal(parseConfig({ clientModule: { integrityFailure: 'embed' } }, 'f', {}).clientModule.integrityFailure, 'embed');
    assert.throws(() => parseConfig({ clientModule: { integrityFailure: 'deliver' } }, 'f', {}), /clientModule\.integrityFailure/);
    assert.throws(() => parseConfig({ directory: { processes: 65 } }, 'f', {}), /directory\.processes/);
    assert.equal(parseConfig({}, 'f', {}).directory.processes, 1);
    // Worker-thread counts and limits: bounded, with their defaults.
    assert.throws(() => parseConfig({ mailin: { threads: 65 } }, 'f', {}), /mailin\.threads/);
    assert.throws(() => parseConfig({ mailin: { threadHeapMb: 8 } }, 'f', {}), /mailin\.threadHeapMb/);
    assert.throws(() => parseConfig({ blobs: { ioThreads: -1 } }, 'f', {}), /blobs\.ioThreads/);
    const defaults = parseConfig({}, 'f', {});
    assert.deepEqual([defaults.mailin.threads, defaults.mailin.threadHeapMb, defaults.blobs.ioThreads], [1, 1024, 2]);
    // The client module's memory for decrypted messages: per session and for all sessions together.
    assert.throws(() => parseConfig({ clientModule: { cacheTotalBytes: -1 } }, 'f', {}), /clientModule\.cacheTotalBytes/);
    assert.deepEqual([defaults.clientModule.sessionCacheBytes, defaults.clientModule.cacheTotalBytes], [64 << 20, 256 << 20]);
    assert.throws(() => parseConfig({ database: { url: 'mysql://x' } }, 'f', {}), /database\.url: must start with sqlite: or postgres/);
  });

  test('unknown keys are errors, not silently ignored', () => {
    assert.throws(() => parseConfig({ service: { smtp: { maxMesageSize: 5 } } }, 'f', {}), /service\.smtp: unknown key\(s\): maxMesageSize/);
  });

  test('environment overrides and ${env:NAME} keep secrets out of the file', () => {
    const c = parseConfig({ database: { url: 'sqlite:x.db' }, tls: { cert: '${env:CERT_PATH}', key: '/k.pem' } }, 'f', {
      POSTAMT_DATABASE_URL: 'postgres://u:secret@db/postamt',
      CERT_PATH: '/c.pem',
    });
    assert.equal(c.database.url, 'postgres://u:secret@db/postamt');
    assert.equal(c.tls.cert, '/c.pem');
    assert.throws(() => parseConfig({ tls: { cert: '${env:MISSING_VAR}' } }, 'f', {}), /tls\.cert: environment variable MISSING_VAR is not set/);
  });

  test('YAML syntax errors and duplicate keys are reported with the file name', () => {
    const d = tempDir();
    try {
      const f = join(d.path, 'postamt.yaml');
      writeFileSync(f, 'service:\n  smtp:\n    maxRecipients: 5\n    maxRecipients: 6\n');
      assert.throws(() => loadConfig(f, {}), /postamt\.yaml: .*(unique|duplicate)/i);
      writeFileSync(f, 'service: [unclosed\n');
      assert.throws(() => loadConfig(f, {}), /postamt\.yaml/);
      assert.throws(() => loadConfig(join(d.path, 'nope.yaml'), {}), /does not exist/);
    } finally {
      d.cleanup();
    }
  });

  test('`postamt config check` accepts a good file and names the key in a bad one', () => {
    const d = tempDir();
    try {
      const good = join(d.path, 'good.yaml');
      writeFileSync(good, `dataDir: ${d.path}\ndatabase:\n  url: postgres://postamt:hunter2@db.example/postamt\nservice:\n  hostname: mail.example\n`);
      const ok = spawnSync(process.execPath, ['bin/postamt.js', 'config', 'check', '-c', good], { encoding: 'utf8' });
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(ok.stdout, /is valid/);
      assert.match(ok.stdout, /postgres:\/\/postamt:\*\*\*@db\.example/);
      assert.doesNotMatch(ok.stdout, /hunter2/, 'the password is redacted');
      const bad = join(d.path, 'bad.yaml');
      writeFileSync(bad, 'service:\n  pop3:\n    idleTimeoutMs: -5\n');
      const res = spawnSync(process.execPath, ['bin/postamt.js', 'config', 'check', '-c', bad], { encoding: 'utf8' });
      assert.equal(res.status, 2);
      assert.match(res.stderr, /service\.pop3\.idleTimeoutMs: /);
    } finally {
      d.cleanup();
    }
  });
});
