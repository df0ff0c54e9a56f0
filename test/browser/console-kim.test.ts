import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { until } from '../helpers/wait.js';
import { startProvider, type Provider } from '../helpers/relay.js';
import { NO_CHROMIUM, chromiumInstalled, launchBrowser, screenshot, seriousA11yViolations, watchPage, signInToConsole } from '../helpers/browser.js';

const MIB = 1024 * 1024;

/**
 * The Accounts page's KIM side in Debian's Chromium against a whole service role: each
 * account's registration state and limits in the list, an account's detail with its
 * registration, dataTimeToLive and maxMailSize changed through the form (PATCH with the
 * session's CSRF token), a value outside KIM's bounds held back, axe and a screenshot.
 */
describe('admin console: KIM registrations and limits in Chromium', { skip: chromiumInstalled() ? false : NO_CHROMIUM }, () => {
  let p: Provider;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let seen: ReturnType<typeof watchPage>;
  let base: string;

  before(async () => {
    p = (await startProvider('sqlite', 'a.test', ['alice@a.test', 'bert@a.test', 'cora@a.test']))!;
    await p.svc.accounts.setTelematikId('alice@a.test', '1-20014711');
    // Registrations as the Account Manager writes them (its HTTP flow: test/http/admin-kim.test.ts).
    const db = p.svc.store.db;
    await db.updateTable('accounts').set({ kim_reg_stat: 'registered', kim_version: '1.5', kim_reference_id: 'V-4711', kim_changed_at: Date.parse('2026-12-01T09:30:00Z') }).where('address', '=', 'alice@a.test').execute();
    await db
      .updateTable('accounts')
      .set({ kim_reg_stat: 'deregistered', kim_version: '1.5', kim_dereg_date: Math.floor(Date.parse('2031-01-02T00:00:00Z') / 1000), kim_changed_at: Date.parse('2026-12-03T00:00:00Z') })
      .where('address', '=', 'bert@a.test')
      .execute();
    base = `http://127.0.0.1:${p.svc.endpoints.http!.port}`;
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    seen = watchPage(page);
    await signInToConsole(page, base, p.svc.adminToken);
  });
  after(async () => {
    await browser?.close();
    await p?.close();
  });

  const row = (address: string) => page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: address }) });

  test('the list shows each account’s registration state and the limits getLimits answers', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Accounts and domains' }).click();
    await row('alice@a.test').waitFor();
    assert.equal(await row('alice@a.test').locator('[data-registration]').innerText(), 'registered');
    assert.equal(await row('bert@a.test').locator('[data-registration]').innerText(), 'deregistration pending, deleted after 2031-01-02');
    assert.equal(await row('cora@a.test').locator('[data-registration]').innerText(), 'not registered yet');
    const kim = (await (await fetch(`${base}/api/accounts/cora%40a.test/kim`, { headers: { authorization: `Bearer ${p.svc.adminToken}` } })).json()) as { limits: { dataTimeToLive: number; maxMailSize: number } };
    assert.equal(await row('cora@a.test').locator('[data-limits]').innerText(), `${kim.limits.dataTimeToLive} days / ${Math.round((kim.limits.maxMailSize / MIB) * 10) / 10} MB`);
    assert.deepEqual(await seriousA11yViolations(page), [], 'axe on the accounts list');
    await page.setViewportSize({ width: 1024, height: 768 });
    const w = await page.evaluate<number>('document.documentElement.scrollWidth');
    await page.setViewportSize({ width: 1280, height: 800 });
    assert.ok(w <= 1024, `scroll width ${w} at 1024 px`);
  });

  test('an account’s detail: its registration, and dataTimeToLive / maxMailSize changed with the keyboard; empty goes back to the default', async () => {
    await page.getByRole('button', { name: 'Change alice@a.test' }).click();
    const form = page.getByRole('form', { name: 'Change alice@a.test' });
    await form.waitFor();
    assert.equal(await form.locator('[data-registration-detail]').innerText(), 'registered');
    assert.match(await form.getByRole('definition').nth(1).innerText(), /1\.5 \/ V-4711/);
    assert.match(await form.getByRole('definition').nth(2).innerText(), /2026-12-01T09:30:00\.000Z/);
    await page.getByLabel('Keep messages (dataTimeToLive), days 10–365').fill('30');
    await page.getByLabel('Largest client mail (maxMailSize), MiB, at least 700').fill('1024');
    assert.deepEqual(await seriousA11yViolations(page), [], 'axe on the account detail');
    await screenshot(page, 'console-account-kim');
    await page.getByLabel('Largest client mail (maxMailSize), MiB, at least 700').press('Enter');
    await page.getByRole('status').filter({ hasText: 'alice@a.test changed.' }).waitFor();
    const a = await p.svc.accounts.get('alice@a.test');
    assert.deepEqual([a.dataTimeToLiveDays, a.maxMailSize], [30, 1024 * MIB]);
    await until('the list shows the new limits', async () => (await row('alice@a.test').locator('[data-limits]').innerText()) === '30 days / 1024 MB');

    await page.getByRole('button', { name: 'Change alice@a.test' }).click();
    assert.equal(await page.getByLabel('Keep messages (dataTimeToLive), days 10–365').inputValue(), '30', 'the form starts from the own value');
    await page.getByLabel('Keep messages (dataTimeToLive), days 10–365').fill('');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').filter({ hasText: 'alice@a.test changed.' }).waitFor();
    await until('back to the default', async () => (await p.svc.accounts.get('alice@a.test')).dataTimeToLiveDays === null);
    assert.equal((await p.svc.accounts.get('alice@a.test')).maxMailSize, 1024 * MIB, 'the other limit kept');
  });

  test('a value outside KIM’s bounds is held back by the form with the browser’s message, and the server refuses it too', async () => {
    await page.getByRole('button', { name: 'Change cora@a.test' }).click();
    const ttl = page.getByLabel('Keep messages (dataTimeToLive), days 10–365');
    await ttl.fill('5');
    await page.getByRole('button', { name: 'Save' }).click();
    assert.notEqual(await ttl.evaluate((el) => (el as unknown as { validationMessage: string }).validationMessage), '', 'the browser says what is wrong');
    assert.equal((await p.svc.accounts.get('cora@a.test')).dataTimeToLiveDays, null, 'nothing was sent');
    // The same change past the form, with the session's cookie: the server's answer names the field.
    const cookie = (await context.cookies())[0]!;
    const csrf = (await (await fetch(`${base}/console/api/session`, { headers: { cookie: `${cookie.name}=${cookie.value}` } })).json()) as { csrfToken: string };
    const patch = (headers: Record<string, string>) =>
      fetch(`${base}/api/accounts/cora%40a.test`, { method: 'PATCH', headers: { cookie: `${cookie.name}=${cookie.value}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ dataTimeToLive: 5 }) });
    assert.equal((await patch({})).status, 403, 'no CSRF token: refused before the body is looked at');
    const bad = await patch({ 'x-csrf-token': csrf.csrfToken });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { title: string }).title, /dataTimeToLive/);
    await page.getByRole('button', { name: 'Cancel' }).click();
    assert.deepEqual(seen.dialogs, []);
    assert.deepEqual(seen.errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });
});
