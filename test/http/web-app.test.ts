import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { tempDir } from '../helpers/env.js';
import { CONSOLE_CSP } from '../../src/http/index.js';
import { serveWebApp } from '../../src/http/web-app.js';

/** serveWebApp: a built app with the strict headers, a missing build as a 503 that names the fix. */
describe('serveWebApp', () => {
  test('a built app: index, assets and the console headers; /<app> redirects to /<app>/', async () => {
    const d = tempDir();
    writeFileSync(join(d.path, 'index.html'), '<!doctype html><title>x</title>');
    writeFileSync(join(d.path, 'app.js'), 'export {};');
    const app = Fastify();
    await serveWebApp(app, 'demo', { root: d.path, label: 'the demo' });
    try {
      const page = await app.inject('/demo/');
      assert.equal(page.statusCode, 200);
      assert.match(page.headers['content-type'] as string, /^text\/html/);
      assert.equal(page.headers['content-security-policy'], CONSOLE_CSP);
      assert.equal(page.headers['x-frame-options'], 'DENY');
      assert.equal(page.headers['cache-control'], 'no-store');
      assert.equal((await app.inject('/demo/app.js')).statusCode, 200);
      assert.equal((await app.inject('/demo')).headers.location, '/demo/');
      assert.equal((await app.inject('/demo/nothing.js')).statusCode, 404);
    } finally {
      await app.close();
      d.cleanup();
    }
  });

  test('not built: 503 problem JSON naming npm run build, on every path of the app', async () => {
    const app = Fastify();
    await serveWebApp(app, 'never-built-app', { label: 'the demo' });
    try {
      for (const path of ['/never-built-app', '/never-built-app/', '/never-built-app/assets/x.js']) {
        const r = await app.inject(path);
        assert.equal(r.statusCode, 503, path);
        assert.match(r.headers['content-type'] as string, /^application\/problem\+json/);
        assert.equal(r.json().title, 'the demo was not built: run npm run build');
        assert.equal(r.headers['content-security-policy'], CONSOLE_CSP);
      }
    } finally {
      await app.close();
    }
  });
});
