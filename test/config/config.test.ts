import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/index.js';
import { UsageError } from '../../src/core/index.js';
import { tempDir } from '../helpers/env.js';

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
    assert.throws(() => parseConfig({ service: { pop3: { implicit: { port: 70000 } } } }, 'f', {}), /service\.pop3\.implicit\.port/);
    assert.throws(() => parseConfig({ directory: { processes: 0 } }, 'f', {}), /directory\.processes/);
    // A_23165: what the PS gets after a failed integrity check is one of three modes, default replace.
    assert.equal(parseConfig({}, 'f', {}).clientModule.integrityFailure, 'replace');
    assert.equal(parseConfig({ clientModule: { integrityFailure: 'embed' } }, 'f', {}).clientModule.integrityFailure, 'embed');
    assert.throws(() => parseConfig({ clientModule: { integrityFailure: 'deliver' } }, 'f', {}), /clientModule\.integrityFailure/);
    assert.throws(() => parseConfig({ directory: { processes: 65 } }, 'f', {}), /directory\.processes/);
    assert.equal(parseConfig({}, 'f', {}).directory.processes, 1);
    // Worker-thread counts and limits: bounded, with their defaults.
    assert.throws(() => parseConfig({ mailin: { threads: 65 } }, 'f', {}), /mailin\.threads/);
    assert.throws(() => parseConfig({ mailin: { threadHeapMb: 16 } }, 'f', {}), /mailin\.threadHeapMb/);
    assert.equal(parseConfig({ mailin: { threadHeapMb: 32 } }, 'f', {}).mailin.threadHeapMb, 32);
    assert.throws(() => parseConfig({ blobs: { ioThreads: -1 } }, 'f', {}), /blobs\.ioThreads/);
    // Database blobs: a size cap above the default message size, and one that every accepted message fits.
    assert.equal(parseConfig({}, 'f', {}).blobs.maxSizeBytes, 256 * 1024 * 1024);
    assert.equal(parseConfig({}, 'f', {}).blobs.chunkBytes, 1024 * 1024);
    assert.throws(() => parseConfig({ blobs: { chunkBytes: 1024 } }, 'f', {}), /blobs\.chunkBytes/);
    assert.throws(
      () => parseConfig({ blobs: { backend: 'database', maxSizeBytes: 50_000_000 }, service: { smtp: { maxMessageSize: 50_000_000 } } }, 'f', {}),
      /blobs\.maxSizeBytes: must be at least service\.smtp\.maxMessageSize/,
    );
    assert.equal(parseConfig({ blobs: { maxSizeBytes: 50_000_000 }, service: { smtp: { maxMessageSize: 50_000_000 } } }, 'f', {}).blobs.backend, 'files');
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

  test('keys nothing reads are refused: mailin.retry.sessionIdleMs, mailin.retry.sessionMaxTransactions, clientModule.upstream.idleMs', () => {
    assert.throws(() => parseConfig({ mailin: { retry: { sessionIdleMs: 2000 } } }, 'f', {}), /mailin\.retry: unknown key\(s\): sessionIdleMs/);
    assert.throws(() => parseConfig({ mailin: { retry: { sessionMaxTransactions: 100 } } }, 'f', {}), /mailin\.retry: unknown key\(s\): sessionMaxTransactions/);
    assert.throws(() => parseConfig({ clientModule: { upstream: { idleMs: 60_000 } } }, 'f', {}), /clientModule\.upstream: unknown key\(s\): idleMs/);
  });

  test('the client module has its own SMTP and POP3 session limits, with the service\'s defaults', () => {
    const c = parseConfig({}, 'f', {});
    const { starttls: _a, implicit: _b, ...cmSmtp } = c.clientModule.smtp;
    const { mx: _c, submission: _d, maxMessageSize: _e, maxRecipients: _f, ...svcSmtp } = c.service.smtp;
    assert.deepEqual(cmSmtp, svcSmtp);
    const { starttls: _g, implicit: _h, ...cmPop3 } = c.clientModule.pop3;
    const { starttls: _i, implicit: _j, allowPlaintextAuth: _k, ...svcPop3 } = c.service.pop3;
    assert.deepEqual(cmPop3, svcPop3);
    const own = parseConfig({ clientModule: { smtp: { maxConnections: 7 }, pop3: { idleTimeoutMs: 5 } } }, 'f', {});
    assert.deepEqual([own.clientModule.smtp.maxConnections, own.service.smtp.maxConnections], [7, 500]);
    assert.deepEqual([own.clientModule.pop3.idleTimeoutMs, own.service.pop3.idleTimeoutMs], [5, 600_000]);
    assert.throws(() => parseConfig({ clientModule: { pop3: { maxCommands: 1 } } }, 'f', {}), /clientModule\.pop3\.maxCommands/);
    assert.throws(() => parseConfig({ clientModule: { smtp: { bareLineFeed: 'allow' } } }, 'f', {}), /clientModule\.smtp\.bareLineFeed/);
  });

  test('relay and mail-in share the worker/retry shape', () => {
    const c = parseConfig({}, 'f', {});
    assert.deepEqual(Object.keys(c.service.relay.worker), ['enabled', 'concurrency', 'pollIntervalMs', 'leaseMs']);
    assert.deepEqual(Object.keys(c.mailin.worker), ['enabled', 'concurrency', 'pollIntervalMs', 'leaseMarginMs']);
    assert.deepEqual(Object.keys(c.service.relay.retry), ['scheduleMs', 'maxAgeMs', 'delayWarnMs']);
    assert.deepEqual(Object.keys(c.mailin.retry), ['scheduleMs', 'maxAttempts']);
    for (const area of ['service.relay', 'mailin']) {
      const at = (v: Record<string, unknown>): Record<string, unknown> => (area === 'mailin' ? { mailin: v } : { service: { relay: v } });
      const key = area.replace('.', '\\.');
      assert.throws(() => parseConfig(at({ worker: { concurrency: 0 } }), 'f', {}), new RegExp(`${key}\\.worker\\.concurrency`));
      assert.throws(() => parseConfig(at({ worker: { pollIntervalMs: 5 } }), 'f', {}), new RegExp(`${key}\\.worker\\.pollIntervalMs`));
      assert.throws(() => parseConfig(at({ retry: { scheduleMs: [] } }), 'f', {}), new RegExp(`${key}\\.retry\\.scheduleMs`));
      assert.throws(() => parseConfig(at({ retry: { scheduleMs: new Array(101).fill(1000) } }), 'f', {}), new RegExp(`${key}\\.retry\\.scheduleMs`));
    }
  });

  test('clientModule.accounts: none by default (every login refused); addresses lower-cased and listed once; each with at least one context', () => {
    assert.deepEqual(parseConfig({}, 'f', {}).clientModule.accounts, []);
    const c = parseConfig({ clientModule: { accounts: [{ address: 'Praxis-A@KIM.test', contexts: [{ mandant: 'm-a', workplaces: ['1'] }] }] } }, 'f', {});
    assert.deepEqual(c.clientModule.accounts, [{ address: 'praxis-a@kim.test', contexts: [{ mandant: 'm-a', workplaces: ['1'] }] }]);
    const account = (a: Record<string, unknown>) => ({ clientModule: { accounts: [a] } });
    assert.throws(() => parseConfig(account({ address: 'praxis-a', contexts: [{ mandant: 'm' }] }), 'f', {}), /clientModule\.accounts\.0\.address: must be a mail address/);
    assert.throws(() => parseConfig(account({ address: 'a@kim.test', contexts: [] }), 'f', {}), /clientModule\.accounts\.0\.contexts/);
    assert.throws(() => parseConfig(account({ address: 'a@kim.test', contexts: [{ mandant: 'm', workplace: '1' }] }), 'f', {}), /clientModule\.accounts\.0\.contexts\.0.*workplace/);
    assert.throws(() => parseConfig(account({ address: 'a@kim.test', contexts: [{ mandant: 'm', workplaces: [] }] }), 'f', {}), /clientModule\.accounts\.0\.contexts\.0\.workplaces/);
    const twice = { clientModule: { accounts: [{ address: 'a@kim.test', contexts: [{ mandant: 'm' }] }, { address: 'A@kim.test', contexts: [{ mandant: 'n' }] }] } };
    assert.throws(() => parseConfig(twice, 'f', {}), /clientModule\.accounts: each address may be listed once/);
  });

});
