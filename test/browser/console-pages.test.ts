import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { deepMerge } from '../helpers/env.js';
import { closedPort } from '../helpers/net.js';
import { until } from '../helpers/wait.js';
import { mailbox, routeTo, startProvider, submit, type Provider } from '../helpers/relay.js';
import { createTestPki } from '../helpers/pki.js';
import { OutcomeRing } from '../../src/clientmodule/index.js';
import { NO_CHROMIUM, chromiumInstalled, launchBrowser, screenshot, seriousA11yViolations, watchPage, signInToConsole } from '../helpers/browser.js';

const XSS = '<script>alert(1)</script>';

/**
 * The console's later pages in Debian's Chromium against a whole service role: the message
 * trace of a message sent over SMTP, "Return to sender" on a relay queue entry, the directory
 * with decoded certificates, mail-in agents with their runs and a retried job, the client
 * module's view. axe on every page, a screenshot each, data with markup rendered as text.
 */
describe('admin console pages in Chromium', { skip: chromiumInstalled() ? false : NO_CHROMIUM }, () => {
  let p: Provider;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let seen: ReturnType<typeof watchPage>;
  let base: string;
  // The client module's ring as the demo hands it to the service (the recording itself: test/service/trace-komle.test.ts).
  const ring = new OutcomeRing(200);

  before(async () => {
    const raw = deepMerge(await routeTo({ port: await closedPort() }, 'b.test'), {
      service: { http: { console: { loginFailureDelayMs: 50 } }, relay: { retry: { scheduleMs: [3_600_000] } } },
      // One attempt: a failing webhook's job is dead at once, for the Retry button.
      mailin: { worker: { pollIntervalMs: 50 }, webhook: { allowLoopbackTargets: true }, retry: { maxAttempts: 1 } },
    });
    p = (await startProvider('sqlite', 'a.test', ['alice@a.test', 'bert@a.test'], raw, { clientModuleOutcomes: () => ring }))!;
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

  async function noSeriousA11y(name: string): Promise<void> {
    assert.deepEqual(await seriousA11yViolations(page), [], `axe on ${name}`);
  }
  async function fitsTablet(): Promise<void> {
    await page.setViewportSize({ width: 1024, height: 768 });
    const w = await page.evaluate<number>('document.documentElement.scrollWidth');
    await page.setViewportSize({ width: 1280, height: 800 });
    assert.ok(w <= 1024, `scroll width ${w} at 1024 px`);
  }
  async function open(name: string): Promise<void> {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
    await page.getByRole('heading', { level: 1, name }).waitFor();
  }

  test('message trace: a message sent over SMTP shows accepted and delivered on its timeline', async () => {
    await submit(p, 'alice@a.test', ['bert@a.test'], { subject: XSS });
    await open('Message trace');
    await page.getByLabel('Address').fill('bert@a.test');
    await page.getByRole('button', { name: 'Search' }).click();
    const row = page.getByRole('row').filter({ has: page.getByRole('cell', { name: 'alice@a.test' }) });
    await row.waitFor();
    assert.equal(await row.locator('[data-status]').innerText(), 'delivered');
    await row.getByRole('button', { name: /Show the way of message/ }).click();
    const timeline = page.getByRole('list', { name: /Events of message/ });
    await timeline.waitFor();
    assert.deepEqual(await timeline.locator(':scope > li').evaluateAll((ls) => ls.map((l) => l.getAttribute('data-kind'))), ['accepted', 'stored', 'delivered']);
    assert.match(await timeline.locator('[data-kind=accepted]').innerText(), /from alice@a\.test over smtp-submission, client 127\.0\.0\.1, TLS TLSv1\.[23]/);
    assert.match(await timeline.locator('[data-kind=delivered]').innerText(), /into the mailbox of bert@a\.test/);
    assert.doesNotMatch(await page.locator('main').innerText(), /script|Sehr geehrte/, 'neither the Subject nor the body is shown');
    await noSeriousA11y('trace');
    await fitsTablet();
    // The docs' picture of this page comes from the demo stack (test/browser/seed-flow.test.ts).
    await screenshot(page, 'console-trace', { docs: false });
    // A wrong input gets its answer in words.
    await page.getByLabel('Address').fill('not-an-address');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('alert').filter({ hasText: 'must be a mail address' }).waitFor();
  });

  test('relay queue: "Return to sender" ends the entry and the failure DSN arrives in the sender\'s mailbox', async () => {
    await submit(p, 'alice@a.test', ['bob@b.test'], { subject: 'Befund für B' });
    await until('the relay attempt failed', async () => (await p.svc.relay.admin.list({})).find((e) => e.attempts >= 1 && e.lastError));
    const before = (await mailbox(p, 'alice@a.test')).length;
    await open('Relay queue');
    const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'bob@b.test' }) });
    await row.waitFor();
    const [entry] = await p.svc.relay.admin.list({});
    await page.getByRole('button', { name: 'Return bob@b.test to sender' }).click();
    await noSeriousA11y('queue asking to confirm');
    await screenshot(page, 'console-queue-return');
    await page.getByRole('button', { name: 'Confirm: return bob@b.test to sender' }).click();
    await page.getByRole('status').filter({ hasText: `Entry ${entry!.id} returned to the sender.` }).waitFor();
    await page.getByRole('table').getByText('0 queued recipient(s)').waitFor();
    assert.deepEqual(await p.svc.relay.admin.list({}), []);
    const box = await mailbox(p, 'alice@a.test');
    assert.equal(box.length, before + 1);
    const dsn = box.at(-1)!;
    assert.match(dsn, /^Return-Path: <>/m);
    assert.match(dsn, /multipart\/report; report-type=delivery-status/i);
    assert.match(dsn, /Final-Recipient: rfc822; ?bob@b\.test/i);
    assert.match(dsn, /Action: failed/);
    assert.match(dsn, /returned to the sender by the administrator/);
    // The trace says who ended it: no attempt, returned by an administrator, the DSN.
    const found = (await p.svc.trace!.list({ address: 'bob@b.test' })).items[0]!;
    const kinds = (await p.svc.trace!.get(found.id)).events.map((e) => e.kind);
    assert.deepEqual(kinds.slice(-2), ['bounced', 'dsn-sent']);
    await noSeriousA11y('queue');
  });

  test('directory: a search with filter characters is escaped; the entry shows RSA and ECC certificates and an expiry warning', async () => {
    const pki = await createTestPki();
    const soon = await pki.issue({ email: 'mueller@a.test', usage: 'enc', notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 10 * 86_400_000) });
    const ecc = await pki.issueEcc({ email: 'mueller@a.test', usage: 'enc' });
    const add = async (body: object) => {
      const r = await fetch(`${base}/api/directory/entries`, { method: 'POST', headers: { authorization: `Bearer ${p.svc.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(r.status, 201, await r.text());
    };
    await add({ attributes: { telematikID: '1-20.59.7', displayName: 'Praxis (Dr.) Müller*', mail: 'mueller@a.test' }, certificates: [soon.certPem, ecc.certPem] });
    await add({ attributes: { telematikID: '1-20.59.8', displayName: XSS, mail: 'xss@a.test' } });
    await add({ attributes: { telematikID: '1-20.59.9', displayName: 'Praxis Dr. Müllerin', mail: 'muellerin@a.test' } });

    await open('Directory');
    // "(Dr.) Müller*" as typed: the parentheses and the star are the name's, not filter syntax.
    await page.getByLabel('Name').fill('(Dr.) Müller*');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('table').getByText('1 entry').waitFor();
    await page.getByRole('button', { name: 'Show entry 1-20.59.7' }).click();
    await page.getByRole('heading', { level: 2, name: 'Praxis (Dr.) Müller*' }).waitFor();
    const rsa = page.locator('tr[data-cert=RSA]');
    const eccRow = page.locator('tr[data-cert=ECC]');
    assert.equal(await rsa.locator('[data-kind]').innerText(), 'RSA 2048');
    assert.equal(await eccRow.locator('[data-kind]').innerText(), 'ECC brainpoolP256r1');
    assert.equal(await rsa.locator('[data-state]').getAttribute('data-state'), 'expiring');
    assert.match(await rsa.locator('[data-state]').innerText(), /Expires in (9|10) day/);
    assert.equal(await eccRow.locator('[data-state]').innerText(), 'Valid');
    assert.match(await rsa.innerText(), /keyEncipherment/);
    assert.match(await eccRow.innerText(), /keyAgreement/);
    await page.getByRole('alert').filter({ hasText: 'expire within 30 days' }).waitFor();
    await noSeriousA11y('directory entry');
    await fitsTablet();
    await screenshot(page, 'console-directory');

    await page.getByLabel('Name').fill('');
    await page.getByLabel('Telematik-ID').fill('1-20.59.8');
    await page.getByRole('button', { name: 'Search' }).click();
    const xss = page.getByRole('rowheader', { name: XSS });
    await xss.waitFor();
    assert.equal(await xss.innerText(), XSS);
    assert.equal(await page.locator('main script').count(), 0);
  });

  test('mail-in: an agent\'s configuration, its run history, a failed job retried from the page', async () => {
    // The webhook fails until told otherwise: the first run fails (the job is dead), the retried one succeeds.
    let healthy = false;
    const hook: Server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' });
        res.end(healthy ? '{}' : '{"error":"down"}');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
      await p.svc.mailin.admin.addDatabase({ address: 'freigaben@a.test', name: XSS, description: 'OA-Freigaben' });
      const agent = await p.svc.mailin.admin.addAgent('freigaben@a.test', { trigger: 'after-delivery', webhook: url, secret: 'a-webhook-secret-of-length', name: 'ERP-Meldung' } as never);
      await submit(p, 'alice@a.test', ['freigaben@a.test'], { subject: 'Freigabe 4711 erledigt' });
      const dead = await until('the job is dead', async () => (await p.svc.mailin.admin.jobs({ state: 'dead' }))[0]);

      await open('Mail-in');
      assert.equal(await page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'freigaben@a.test' }) }).locator('.display-name').innerText(), XSS);
      const agentRow = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: `#${String(agent.id)} ERP-Meldung` }) });
      await agentRow.waitFor();
      assert.match(await agentRow.innerText(), /after-delivery[\s\S]*webhook http:\/\/127\.0\.0\.1:\d+\/hook/);
      assert.doesNotMatch(await page.locator('main').innerText(), /a-webhook-secret/);
      const jobRow = page.locator(`tr[data-job="${String(dead.id)}"]`);
      await jobRow.waitFor();
      assert.equal(await jobRow.locator('[data-state]').innerText(), 'dead');
      const firstRun = page.locator('tr[data-run]').first();
      assert.equal(await firstRun.locator('[data-outcome]').innerText(), 'failed');
      assert.match(await firstRun.innerText(), /503/);
      await noSeriousA11y('mail-in');
      await fitsTablet();
      await screenshot(page, 'console-mailin');

      healthy = true;
      await page.getByRole('button', { name: `Retry job ${String(dead.id)}` }).click();
      await page.getByRole('status').filter({ hasText: `Job ${String(dead.id)} queued again` }).waitFor();
      await until('the retried job ran', async () => (await p.svc.mailin.admin.jobs({ state: 'done' })).find((j) => j.id === dead.id));
      await page.getByRole('button', { name: 'Reload' }).click();
      await until('the new run shown', async () => (await page.locator('tr[data-run]').count()) === 2);
      assert.equal(await page.locator('tr[data-run]').first().locator('[data-outcome]').innerText(), 'accept');
      assert.equal(await page.locator('tr[data-job]').count(), 0, 'no failed job left');
    } finally {
      await new Promise((r) => hook.close(r));
    }
  });

  test('client module: recent results with their KIM codes; markup in an address shows as text', async () => {
    ring.record({ direction: 'send', account: 'alice@a.test', from: 'alice@a.test', to: ['bob@b.test', 'carl@c.test'], result: 'partial', codes: { 'X-KIM-Fehlermeldung': ['carl@c.test: 4004'] }, error: '1 recipient(s) dropped' });
    ring.record({ direction: 'receive', account: 'alice@a.test', from: `${XSS}@b.test`, to: ['alice@a.test'], result: 'failed', codes: { 'X-KIM-DecryptionResult': '01', 'X-KIM-Fehlermeldung': ['4011'] } });
    await open('Client module');
    const rows = page.locator('tr[data-outcome]');
    await until('two outcomes', async () => (await rows.count()) === 2);
    assert.equal(await rows.nth(0).locator('[data-result]').innerText(), 'failed');
    assert.equal(await rows.nth(0).locator('[data-codes]').innerText(), 'X-KIM-DecryptionResult: 01; X-KIM-Fehlermeldung: 4011');
    assert.match(await rows.nth(0).innerText(), /<script>alert\(1\)<\/script>@b\.test/);
    assert.equal(await rows.nth(1).locator('[data-codes]').innerText(), 'X-KIM-Fehlermeldung: carl@c.test: 4004');
    await page.getByRole('heading', { name: 'Konnektor: cards and PIN status' }).waitFor();
    await until('the Konnektor status answered', async () => (await page.getByText(/card\(s\)|could not be read/).count()) > 0);
    await noSeriousA11y('client module');
    await fitsTablet();
    // The docs' picture of this page comes from the demo stack (test/browser/seed-flow.test.ts).
    await screenshot(page, 'console-clientmodule', { docs: false });
  });

  test('no script from the data ran, no errors on the page', () => {
    assert.deepEqual(seen.dialogs, []);
    assert.deepEqual(seen.errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });
});
