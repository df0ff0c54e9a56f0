import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { UsageError } from '../../src/core/index.js';
import { tempDir } from '../helpers/env.js';
import { postamtSync, spawnPostamt } from '../helpers/process.js';

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
      writeFileSync(f, `dataDir: ${join(d.path, 'data')}\nservice:\n  smtp:\n    mx: { port: 0 }\n    submission: { port: 0 }\n  pop3:\n    plain: { port: 0 }\n    tls: { port: 0 }\n  http: { port: 0 }\n`);
      const check = postamtSync(['config', 'check', '-c', f]);
      assert.equal(check.code, 0, check.stderr);
      assert.match(check.stdout, /is valid/);
      assert.equal(check.stderr, `warning: ${f}: service.pop3.plain: deprecated, now service.pop3.starttls (the old key is read until the next release)\nwarning: ${f}: service.pop3.tls: deprecated, now service.pop3.implicit (the old key is read until the next release)\n`);
      const json = postamtSync(['config', 'check', '--json', '-c', f]);
      assert.equal(json.code, 0, json.stderr);
      assert.equal((JSON.parse(json.stdout) as { service: { pop3: { starttls: { port: number } } } }).service.pop3.starttls.port, 0);
      assert.match(json.stderr, /service\.pop3\.plain: deprecated/);
      const serve = await spawnPostamt(['-c', f, 'serve', '--roles', 'service'], join(d.path, 'data'));
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
