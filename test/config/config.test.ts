import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/index.js';
import { UsageError } from '../../src/core/index.js';
import { tempDir } from '../helpers/env.js';
import { postamtSync, spawnPostamt } from '../helpers/process.js';

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

  describe('keys renamed in this release', () => {
    const read = (raw: Record<string, unknown>) => {
      const warnings: string[] = [];
      const config = parseConfig(raw, 'postamt.yaml', {}, '/srv', warnings);
      return { config, warnings };
    };
    const deprecated = (from: string, to: string) => `postamt.yaml: ${from}: deprecated, now ${to} (the old key is read until the next release)`;

    test('each old key is read at its new place, with one warning naming both', () => {
      const cases: Array<[Record<string, unknown>, (c: ReturnType<typeof parseConfig>) => unknown, unknown, Array<[string, string]>]> = [
        [{ service: { pop3: { plain: { port: 1111 } } } }, (c) => c.service.pop3.starttls.port, 1111, [['service.pop3.plain', 'service.pop3.starttls']]],
        [{ service: { pop3: { tls: { enabled: false } } } }, (c) => c.service.pop3.implicit.enabled, false, [['service.pop3.tls', 'service.pop3.implicit']]],
        [
          { directory: { ldap: { enabled: false, host: '::1', port: 2389 } } },
          (c) => c.directory.ldap.starttls,
          { enabled: false, host: '::1', port: 2389 },
          [
            ['directory.ldap.enabled', 'directory.ldap.starttls.enabled'],
            ['directory.ldap.host', 'directory.ldap.starttls.host'],
            ['directory.ldap.port', 'directory.ldap.starttls.port'],
          ],
        ],
        [{ directory: { ldaps: { port: 2636 } } }, (c) => c.directory.ldap.implicit.port, 2636, [['directory.ldaps', 'directory.ldap.implicit']]],
        [{ clientModule: { smtp: { port: 2025 } } }, (c) => c.clientModule.smtp.starttls.port, 2025, [['clientModule.smtp.port', 'clientModule.smtp.starttls.port']]],
        [{ clientModule: { smtps: { port: 2465 } } }, (c) => c.clientModule.smtp.implicit.port, 2465, [['clientModule.smtps', 'clientModule.smtp.implicit']]],
        [{ clientModule: { pop3: { host: '0.0.0.0' } } }, (c) => c.clientModule.pop3.starttls.host, '0.0.0.0', [['clientModule.pop3.host', 'clientModule.pop3.starttls.host']]],
        [{ clientModule: { pop3s: { port: 2995 } } }, (c) => c.clientModule.pop3.implicit.port, 2995, [['clientModule.pop3s', 'clientModule.pop3.implicit']]],
        [{ service: { relay: { worker: false } } }, (c) => c.service.relay.worker.enabled, false, [['service.relay.worker', 'service.relay.worker.enabled']]],
        [{ service: { relay: { concurrency: 3 } } }, (c) => c.service.relay.worker.concurrency, 3, [['service.relay.concurrency', 'service.relay.worker.concurrency']]],
        [{ service: { relay: { pollIntervalMs: 50 } } }, (c) => c.service.relay.worker.pollIntervalMs, 50, [['service.relay.pollIntervalMs', 'service.relay.worker.pollIntervalMs']]],
        [{ service: { relay: { leaseMs: 3_600_000 } } }, (c) => c.service.relay.worker.leaseMs, 3_600_000, [['service.relay.leaseMs', 'service.relay.worker.leaseMs']]],
        [{ service: { relay: { retryScheduleMs: [1000] } } }, (c) => c.service.relay.retry.scheduleMs, [1000], [['service.relay.retryScheduleMs', 'service.relay.retry.scheduleMs']]],
        [{ service: { relay: { maxAgeMs: 0 } } }, (c) => c.service.relay.retry.maxAgeMs, 0, [['service.relay.maxAgeMs', 'service.relay.retry.maxAgeMs']]],
        [{ service: { relay: { delayWarnMs: 60_000 } } }, (c) => c.service.relay.retry.delayWarnMs, 60_000, [['service.relay.delayWarnMs', 'service.relay.retry.delayWarnMs']]],
      ];
      for (const [raw, get, value, renamed] of cases) {
        const { config, warnings } = read(raw);
        assert.deepEqual(get(config), value, JSON.stringify(raw));
        assert.deepEqual(warnings, renamed.map(([from, to]) => deprecated(from, to)));
      }
      // Old and new keys of different settings side by side; a boolean worker and keys moving into it.
      const mixed = read({ service: { relay: { worker: false, concurrency: 2, retry: { maxAgeMs: 0 } } }, clientModule: { smtp: { port: 1, maxConnections: 9, implicit: { port: 2 } } } });
      assert.deepEqual(mixed.config.service.relay.worker, { enabled: false, concurrency: 2, pollIntervalMs: 5000, leaseMs: 45 * 60_000 });
      assert.deepEqual([mixed.config.clientModule.smtp.starttls.port, mixed.config.clientModule.smtp.implicit.port, mixed.config.clientModule.smtp.maxConnections], [1, 2, 9]);
      assert.equal(mixed.warnings.length, 3);
      // A wrong value under an old key is reported, at the new key's name.
      assert.throws(() => read({ service: { pop3: { plain: { port: 'x' } } } }), /service\.pop3\.starttls\.port: .*\n.*service\.pop3\.plain: deprecated, now service\.pop3\.starttls/);
    });

    test('the new keys give no warning', () => {
      const { config, warnings } = read({
        service: { pop3: { starttls: { port: 0 }, implicit: { port: 0 } }, relay: { worker: { enabled: false, concurrency: 2 }, retry: { scheduleMs: [1000], maxAgeMs: 0 } } },
        directory: { ldap: { starttls: { port: 0 }, implicit: { enabled: false } } },
        clientModule: { smtp: { starttls: { port: 0 }, implicit: { port: 0 }, maxConnections: 3 }, pop3: { starttls: { port: 0 }, implicit: { port: 0 } } },
      });
      assert.deepEqual(warnings, []);
      assert.equal(config.directory.ldap.implicit.enabled, false);
      assert.deepEqual(read({}).warnings, []);
    });

    test('an old key and its new one given together are refused, naming both', () => {
      const conflicts: Array<[Record<string, unknown>, RegExp]> = [
        [{ service: { pop3: { plain: { port: 1 }, starttls: { port: 2 } } } }, /service\.pop3\.plain and service\.pop3\.starttls are given for the same thing: keep only service\.pop3\.starttls/],
        [{ directory: { ldap: { port: 1, starttls: { port: 2 } } } }, /directory\.ldap\.port and directory\.ldap\.starttls are given/],
        [{ directory: { ldaps: { port: 1 }, ldap: { implicit: { port: 2 } } } }, /directory\.ldaps and directory\.ldap\.implicit are given/],
        [{ clientModule: { smtps: { port: 1 }, smtp: { implicit: { port: 2 } } } }, /clientModule\.smtps and clientModule\.smtp\.implicit are given/],
        [{ clientModule: { pop3: { host: '::1', enabled: true, starttls: {} } } }, /clientModule\.pop3\.enabled, clientModule\.pop3\.host and clientModule\.pop3\.starttls are given/],
        [{ service: { relay: { concurrency: 1, worker: { concurrency: 2 } } } }, /service\.relay\.concurrency and service\.relay\.worker\.concurrency are given/],
        [{ service: { relay: { retryScheduleMs: [1], retry: { scheduleMs: [2] } } } }, /service\.relay\.retryScheduleMs and service\.relay\.retry\.scheduleMs are given/],
      ];
      for (const [raw, message] of conflicts) {
        assert.throws(() => read(raw), (e: Error) => e instanceof UsageError && /^postamt\.yaml: /.test(e.message) && message.test(e.message), JSON.stringify(raw));
      }
    });

    test('`postamt config check` prints the warnings (stderr, --json stays JSON); `serve` logs them once', async () => {
      const d = tempDir();
      try {
        const f = join(d.path, 'old.yaml');
        writeFileSync(f, `dataDir: ${d.path}\nservice:\n  smtp:\n    mx: { port: 0 }\n    submission: { port: 0 }\n  pop3:\n    plain: { port: 0 }\n    tls: { port: 0 }\n  http: { port: 0 }\n`);
        const check = postamtSync(['config', 'check', '-c', f]);
        assert.equal(check.code, 0, check.stderr);
        assert.match(check.stdout, /is valid/);
        assert.equal(check.stderr, `warning: ${f}: service.pop3.plain: deprecated, now service.pop3.starttls (the old key is read until the next release)\nwarning: ${f}: service.pop3.tls: deprecated, now service.pop3.implicit (the old key is read until the next release)\n`);
        const json = postamtSync(['config', 'check', '--json', '-c', f]);
        assert.equal(json.code, 0, json.stderr);
        assert.equal((JSON.parse(json.stdout) as { service: { pop3: { starttls: { port: number } } } }).service.pop3.starttls.port, 0);
        assert.match(json.stderr, /service\.pop3\.plain: deprecated/);
        const serve = await spawnPostamt(['-c', f, 'serve', '--roles', 'service'], d.path);
        const logged = () => serve.stdout.filter((l) => /deprecated, now/.test(l));
        serve.child.kill('SIGTERM');
        await serve.exited;
        assert.equal(logged().length, 2, serve.stdout.join('\n'));
        assert.match(logged()[0]!, /"level":40.*service\.pop3\.plain: deprecated, now service\.pop3\.starttls/);
      } finally {
        d.cleanup();
      }
    });
  });
});
