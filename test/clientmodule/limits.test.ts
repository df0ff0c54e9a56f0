import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tempDir, testConfig } from '../helpers/env.js';
import { RawClient } from '../helpers/net.js';
import { createLogger } from '../../src/core/index.js';
import { startClientModule, type RunningClientModule } from '../../src/roles/index.js';

// The client module's listeners keep their own limits (clientModule.smtp, clientModule.pop3),
// not the service's: here the service allows one connection and the client module two.
describe('client module: its own SMTP and POP3 limits', () => {
  const d = tempDir();
  let cm: RunningClientModule;
  before(async () => {
    const config = testConfig(d.path, {
      service: { smtp: { maxConnections: 1 }, pop3: { maxConnections: 1 } },
      clientModule: {
        smtp: { starttls: { port: 0 }, implicit: { enabled: false }, maxConnections: 2 },
        pop3: { starttls: { port: 0 }, implicit: { enabled: false }, maxConnections: 2 },
      },
    });
    cm = await startClientModule(config, createLogger('silent'));
  });
  after(async () => {
    await cm.close(0);
    d.cleanup();
  });

  for (const [name, greeting, refusal] of [
    ['cm-smtp', /^220 /, /^421 .*Too many connected clients/],
    ['cm-pop3', /^\+OK/, /^-ERR \[SYS\/TEMP\] too many connections/],
  ] as const) {
    test(`${name}: clientModule.${name.slice(3)}.maxConnections, not service.${name.slice(3)}.maxConnections`, async () => {
      const port = cm.endpoints[name]!.port;
      const open: RawClient[] = [];
      try {
        for (let i = 0; i < 2; i++) {
          const c = await RawClient.connect(port);
          open.push(c);
          assert.match(await c.line(), greeting, `connection ${i + 1}`);
        }
        const third = await RawClient.connect(port);
        open.push(third);
        assert.match(await third.line(), refusal);
      } finally {
        for (const c of open) c.close();
      }
    });
  }
});
