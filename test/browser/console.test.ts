import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { deepMerge } from '../helpers/env.js';
import { closedPort } from '../helpers/net.js';
import { until } from '../helpers/wait.js';
import { routeTo, startProvider, submit, type Provider } from '../helpers/relay.js';
import { NO_CHROMIUM, chromiumInstalled, launchBrowser, screenshot, seriousA11yViolations, watchPage } from '../helpers/browser.js';

const XSS_SCRIPT = '<script>alert(1)</script>';
const XSS_IMG = '<img src=x onerror=alert(2)>';

/**
 * The admin console in Debian's Chromium against a whole service role: sign in, the overview's
 * charts after real SMTP traffic, accounts added and disabled through the forms, a relay queue
 * entry (a route to a closed port) retried from its page; axe on every page, screenshots.
 */
describe('admin console in Chromium', { skip: chromiumInstalled() ? false : NO_CHROMIUM }, () => {
  let p: Provider;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let seen: ReturnType<typeof watchPage>;
  let base: string;

  before(async () => {
    const raw = deepMerge(await routeTo({ port: await closedPort() }, 'b.test'), {
      service: { http: { console: { sampleMs: 1000, loginFailureDelayMs: 50 } }, relay: { retry: { scheduleMs: [3_600_000] } } },
    });
    p = (await startProvider('sqlite', 'a.test', ['alice@a.test'], raw))!;
    await p.svc.accounts.setDisplayName('alice@a.test', 'Dr. Alice Arzt');
    await p.svc.accounts.add({ address: 'xss1@a.test', password: 'a-long-password', displayName: XSS_SCRIPT });
    await p.svc.accounts.add({ address: 'xss2@a.test', password: 'a-long-password', displayName: XSS_IMG });
    base = `http://127.0.0.1:${p.svc.endpoints.http!.port}`;
    // Traffic for the charts: one local message, one for the closed route (it stays queued).
    await submit(p, 'alice@a.test', ['alice@a.test'], { subject: 'lokal' });
    await submit(p, 'alice@a.test', ['bob@b.test'], { subject: 'Befund' });
    await until('the relay attempt failed', async () => (await p.svc.relay.admin.list({})).find((e) => e.attempts >= 1 && e.lastError));
    await until('samples with the traffic', async () => {
      const r = (await (await fetch(`${base}/api/stats`, { headers: { authorization: `Bearer ${p.svc.adminToken}` } })).json()) as { samples: Array<{ accepted: number; queueDepth: number }> };
      return r.samples.reduce((n, x) => n + x.accepted, 0) === 2 && r.samples.at(-1)?.queueDepth === 1;
    });
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    seen = watchPage(page);
  });
  after(async () => {
    await browser?.close();
    await p?.close();
  });

  async function noSeriousA11y(name: string): Promise<void> {
    assert.deepEqual(await seriousA11yViolations(page), [], `axe on ${name}`);
  }

  /** At 1024×768 the page needs no horizontal scrolling. */
  async function fitsTablet(): Promise<void> {
    await page.setViewportSize({ width: 1024, height: 768 });
    const w = await page.evaluate<number>('document.documentElement.scrollWidth');
    await page.setViewportSize({ width: 1280, height: 800 });
    assert.ok(w <= 1024, `scroll width ${w} at 1024 px`);
  }

  test('sign-in page: a wrong token is refused in words, the right one opens the overview', async () => {
    await page.goto(`${base}/console/`);
    await page.getByLabel('Admin token').waitFor();
    await noSeriousA11y('sign-in');
    await screenshot(page, 'console-login');
    await page.getByLabel('Admin token').fill('wrong-token-wrong-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'wrong admin token' }).waitFor();
    await page.getByLabel('Admin token').fill(p.svc.adminToken);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    const cookies = await context.cookies();
    assert.deepEqual(
      cookies.map((c) => [c.name, c.httpOnly, c.sameSite, c.path]),
      [['postamt_console', true, 'Strict', '/']],
    );
    assert.equal(await page.evaluate<string>('document.cookie'), '', 'the session cookie is not readable by scripts');
  });

  test('overview: listeners, health and three charts with the traffic', async () => {
    await page.getByRole('table', { name: 'Listeners' }).getByRole('rowheader', { name: 'smtp-submission' }).waitFor();
    assert.match(await page.locator('strong.ok').innerText(), /ready/);
    await until('three charts drawn', async () => (await page.locator('.chart canvas').count()) === 3);
    assert.equal(await page.locator('[data-figure="accepted"]').innerText(), '2');
    assert.equal(await page.locator('[data-figure="delivered"]').innerText(), '1');
    assert.equal(await page.locator('[data-figure="queue"]').innerText(), '1');
    assert.ok(await page.locator('.chart').first().getByRole('img').getAttribute('aria-label'));
    await noSeriousA11y('overview');
    await fitsTablet();
    await screenshot(page, 'console-overview');
  });

  test('accounts: a stored XSS attempt in display names renders as text; add and disable an account with the forms', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Accounts and domains' }).click();
    await page.getByRole('heading', { level: 1, name: 'Accounts and domains' }).waitFor();
    const row1 = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'xss1@a.test' }) });
    await row1.waitFor();
    assert.equal(await row1.locator('.display-name').innerText(), XSS_SCRIPT);
    assert.equal(await page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'xss2@a.test' }) }).locator('.display-name').innerText(), XSS_IMG);
    assert.equal(await page.locator('main img').count(), 0, 'no <img> element was made from a display name');

    await page.getByLabel('Address').fill('carol@a.test');
    await page.getByLabel('Display name', { exact: true }).fill('Carol Pflege');
    await page.getByLabel('Password (at least 8 characters)').fill('carols-password');
    await page.getByRole('button', { name: 'Add account' }).click();
    await page.getByRole('status').filter({ hasText: 'Account carol@a.test added.' }).waitFor();
    const carol = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'carol@a.test' }) });
    assert.equal(await carol.locator('.display-name').innerText(), 'Carol Pflege');
    assert.equal((await p.svc.accounts.get('carol@a.test')).displayName, 'Carol Pflege');

    await page.getByRole('button', { name: 'Disable carol@a.test' }).click();
    await page.getByRole('button', { name: 'Enable carol@a.test' }).waitFor();
    assert.equal((await p.svc.accounts.get('carol@a.test')).disabled, true);

    await page.getByLabel('Search accounts').fill('pflege');
    await until('the search narrowed the list', async () => (await page.locator('tbody tr').count()) === 1);
    await page.getByLabel('Search accounts').fill('');
    await until('the whole list back', async () => (await page.locator('tbody tr').count()) === 4);

    await noSeriousA11y('accounts');
    await fitsTablet();
    await screenshot(page, 'console-accounts');
    // A bad input gets its answer in words.
    await page.getByLabel('Address').fill('dora@nowhere.test');
    await page.getByLabel('Password (at least 8 characters)').fill('doras-password');
    await page.getByRole('button', { name: 'Add account' }).click();
    await page.getByRole('alert').filter({ hasText: 'not a local domain' }).waitFor();
    await noSeriousA11y('accounts with an error');

    assert.deepEqual(seen.dialogs, [], 'no script from a display name ran');
  });

  test('relay queue: the entry for the closed route, retried now from its page', async () => {
    await page.getByRole('link', { name: 'Relay queue' }).click();
    const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'bob@b.test' }) });
    await row.waitFor();
    const [entry] = await p.svc.relay.admin.list({});
    assert.ok(entry && entry.nextAttemptAt > Date.now() + 60_000, 'waiting an hour for its next attempt');
    assert.equal(await row.locator('[data-attempts]').innerText(), String(entry.attempts));
    await noSeriousA11y('queue');
    await fitsTablet();
    await screenshot(page, 'console-queue');
    await page.getByRole('button', { name: 'Retry bob@b.test now' }).click();
    await page.getByRole('status').filter({ hasText: `Entry ${entry.id} is due now.` }).waitFor();
    await until('the worker tried again', async () => (await p.svc.relay.admin.list({})).find((e) => e.attempts > entry.attempts));
    assert.deepEqual(seen.errors.filter((e) => !/401|Failed to load resource/.test(e)), []);
  });

  test('signing out ends the session: the API answers 401 to the same cookie', async () => {
    const cookie = (await context.cookies())[0]!;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin token').waitFor();
    const r = await fetch(`${base}/api/accounts`, { headers: { cookie: `${cookie.name}=${cookie.value}` } });
    assert.equal(r.status, 401);
  });
});
