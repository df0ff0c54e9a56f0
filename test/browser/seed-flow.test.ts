import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { tempDir, testConfig } from '../helpers/env.js';
import { closedPort } from '../helpers/net.js';
import { until } from '../helpers/wait.js';
import { startRelaySink, type RelaySink } from '../helpers/relay-sink.js';
import { createLogger } from '../../src/core/index.js';
import { startDemo, type RunningDemo } from '../../src/roles/index.js';
import { NO_CHROMIUM, chromiumInstalled, launchBrowser, screenshot, seriousA11yViolations, watchPage, signInToConsole } from '../helpers/browser.js';

// Words of the message that only its plaintext carries: the operator's pages must show none of them.
const SUBJECT = 'Laborbefund Quittenmus';
const TEXT = 'Sehr geehrte Kollegin,\nanbei der Befund zu Herrn Zwetschgenbaum.\n';
const FILE = 'labor-quitte.pdf';
const SECRET_WORDS = ['Laborbefund', 'Quittenmus', 'Kollegin', 'Zwetschgenbaum', 'labor-quitte'];
const ATTACHMENT = randomBytes(30_000);
/** The remote provider that is down at first: a relay route to a port nothing listens on. */
const REMOTE = 'kollege@extern.test';

/**
 * The seed's flow as one story on the `npm start` demo stack (service, directory, Konnektor
 * simulator, client module, Praxis-Postfach, admin console), in Debian's Chromium with three
 * browser contexts: practice A sends B a KOM-LE message with an attachment and a Dienstkennung,
 * B reads it and downloads the attachment; the operator follows it in the message trace
 * (accepted → stored as ciphertext → delivered → fetched, no word of its plaintext on the page),
 * sees the Mandanten, the Konnektor's cards and both ends' KIM codes on the client module page,
 * and retries a message for a provider that was down until it is relayed. axe on every page.
 */
describe('the seed\'s flow end to end: two practices and the operator', { skip: chromiumInstalled() ? false : NO_CHROMIUM }, () => {
  const d = tempDir();
  let demo: RunningDemo;
  let praxisBase: string;
  let consoleBase: string;
  let practices: Array<{ address: string; password: string }>;
  let remotePort: number;
  let sink: RelaySink | undefined;
  let browser: Browser;
  const pages: Record<'a' | 'b' | 'op', { ctx: BrowserContext; page: Page; seen: ReturnType<typeof watchPage> }> = {} as never;

  before(async () => {
    remotePort = await closedPort();
    const config = testConfig(d.path, {
      service: {
        http: { console: { loginFailureDelayMs: 50 } },
        // A failed attempt waits an hour: only the operator's "Retry now" brings the next one.
        relay: { worker: { pollIntervalMs: 100 }, retry: { scheduleMs: [3_600_000] }, routes: { 'extern.test': { host: '127.0.0.1', port: remotePort, tls: 'none' } } },
      },
      clientModule: { smtp: { starttls: { port: 0 }, implicit: { port: 0 } }, pop3: { starttls: { port: 0 }, implicit: { port: 0 } } },
      praxis: { http: { port: 0 }, login: { failureDelayMs: 20 } },
    });
    demo = await startDemo(config, createLogger('silent'));
    const px = demo.endpointsFile.endpoints.praxis!;
    praxisBase = `http://${px.host}:${px.port}`;
    const http = demo.endpointsFile.endpoints.http!;
    consoleBase = `http://${http.host}:${http.port}`;
    practices = demo.endpointsFile.practices as typeof practices;
    browser = await launchBrowser();
    for (const who of ['a', 'b', 'op'] as const) {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
      const page = await ctx.newPage();
      pages[who] = { ctx, page, seen: watchPage(page) };
    }
  });
  after(async () => {
    await browser?.close();
    await sink?.close();
    await demo?.close();
    d.cleanup();
  });

  const pa = () => practices[0]!;
  const pb = () => practices[1]!;
  const op = () => pages.op.page;

  async function noSeriousA11y(page: Page, name: string): Promise<void> {
    assert.deepEqual(await seriousA11yViolations(page), [], `axe on ${name}`);
  }

  async function praxisSignIn(page: Page, who: { address: string; password: string }): Promise<void> {
    await page.goto(`${praxisBase}/praxis/`);
    await page.getByLabel('KIM-Adresse').fill(who.address);
    await page.getByLabel('Passwort').fill(who.password);
    await page.getByRole('button', { name: 'Anmelden' }).click();
    await page.getByRole('heading', { level: 1, name: 'Posteingang' }).waitFor();
  }

  async function openConsolePage(name: string): Promise<void> {
    await op().getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
    await op().getByRole('heading', { level: 1, name }).waitFor();
  }

  /** Searches the trace for `address` and opens the way of the message from `from`; the timeline's event kinds. */
  async function traceOf(address: string, from: string): Promise<string[]> {
    await op().getByLabel('Address').fill(address);
    await op().getByRole('button', { name: 'Search' }).click();
    const row = op().getByRole('row').filter({ has: op().getByRole('cell', { name: from, exact: true }) });
    await row.waitFor();
    await row.getByRole('button', { name: /Show the way of message/ }).click();
    const timeline = op().getByRole('list', { name: /Events of message/ });
    await timeline.waitFor();
    return timeline.locator(':scope > li').evaluateAll((ls) => ls.map((l) => l.getAttribute('data-kind') ?? ''));
  }

  test('1. A finds B in the directory, writes with an attachment and a Dienstkennung, sends; B sees the badge, opens it, downloads the attachment', async () => {
    const a = pages.a.page;
    await praxisSignIn(a, pa());
    await a.getByRole('navigation', { name: 'Hauptnavigation' }).getByRole('link', { name: 'Empfänger suchen' }).click();
    await a.getByLabel('Name', { exact: true }).fill('Praxis B');
    await a.getByRole('button', { name: 'Suchen' }).click();
    await a.getByText('1 Eintrag gefunden.').waitFor();
    await noSeriousA11y(a, 'Praxis-Postfach search');
    await a.getByRole('button', { name: `${pb().address} als Empfänger übernehmen` }).click();
    await a.getByRole('link', { name: 'Nachricht schreiben' }).click();
    await a.getByRole('heading', { level: 1, name: 'Nachricht schreiben' }).waitFor();
    assert.equal(await a.getByLabel('An', { exact: true }).inputValue(), pb().address);
    await a.getByLabel('Betreff').fill(SUBJECT);
    await a.getByLabel('Text', { exact: true }).fill(TEXT);
    await a.getByLabel('Dienstkennung', { exact: true }).selectOption('eAU;Lieferung;V1.0');
    await a.getByLabel('Dateien anhängen').setInputFiles({ name: FILE, mimeType: 'application/pdf', buffer: ATTACHMENT });
    await a.getByText(FILE).waitFor();
    await noSeriousA11y(a, 'Praxis-Postfach compose');
    await a.getByRole('button', { name: 'Senden' }).click();
    await a.getByRole('status').filter({ hasText: 'alle Empfänger wurden angenommen' }).waitFor();

    const b = pages.b.page;
    await praxisSignIn(b, pb());
    const item = b.getByRole('list', { name: 'Nachrichten, neueste zuerst' }).getByRole('listitem').filter({ has: b.getByRole('link', { name: SUBJECT }) });
    await item.waitFor();
    assert.equal(await item.locator('.badge').innerText(), 'in Ordnung: Entschlüsselt, Signatur gültig');
    assert.equal(await item.locator('.dk').innerText(), 'eAU;Lieferung;V1.0');
    await noSeriousA11y(b, 'Praxis-Postfach inbox');
    await item.getByRole('link', { name: SUBJECT }).click();
    await b.getByRole('heading', { level: 1, name: SUBJECT }).waitFor();
    assert.match(await b.locator('pre.body').innerText(), /Zwetschgenbaum/);
    const [download] = await Promise.all([b.waitForEvent('download'), b.getByRole('link', { name: FILE }).click()]);
    assert.ok(readFileSync((await download.path())!).equals(ATTACHMENT), 'the downloaded bytes are the sent ones');
    await noSeriousA11y(b, 'Praxis-Postfach message');
  });

  test('2. the operator signs in with the demo\'s admin token and traces the message by B\'s address: accepted → stored (ciphertext only) → delivered → fetched, no word of it on the page', async () => {
    // The token as an operator finds it: in the demo's data directory.
    const token = readFileSync(join(d.path, 'admin-token'), 'utf8').trim();
    await signInToConsole(op(), consoleBase, token);
    await noSeriousA11y(op(), 'console overview');
    await openConsolePage('Message trace');
    // B's client module reads the message over POP3; the trace learns of it when that session ends.
    let kinds: string[] = [];
    await until('the trace shows the message fetched', async () => {
      kinds = await traceOf(pb().address, pa().address);
      return kinds.includes('fetched');
    });
    assert.deepEqual(kinds.slice(0, 4), ['accepted', 'stored', 'delivered', 'fetched']);
    const timeline = op().getByRole('list', { name: /Events of message/ });
    assert.match(await timeline.locator('[data-kind=accepted]').innerText(), new RegExp(`from ${pa().address.replace(/\./g, '\\.')} over smtp-submission`));
    assert.match(await timeline.locator('[data-kind=stored]').innerText(), /ciphertext only/);
    assert.match(await timeline.locator('[data-kind=delivered]').innerText(), new RegExp(`into the mailbox of ${pb().address.replace(/\./g, '\\.')}`));
    assert.equal(await op().locator('[data-status]').first().innerText(), 'delivered');
    assert.equal(await op().getByRole('definition').filter({ hasText: 'KOM-LE: ciphertext only' }).count(), 1);
    const text = await op().locator('body').innerText();
    for (const w of SECRET_WORDS) assert.ok(!text.toLowerCase().includes(w.toLowerCase()), `the trace page shows "${w}"`);
    await noSeriousA11y(op(), 'console trace');
    await screenshot(op(), 'console-trace');
  });

  test("3. the client module page: the demo's Mandanten, the Konnektor's cards with PIN status, A's send and B's receive with their KIM codes", async () => {
    await openConsolePage('Client module');
    const mandanten = op().getByRole('table').filter({ has: op().locator('caption', { hasText: 'Mandant(en)' }) });
    // The simulator holds the Mandanten (as a practice's Konnektor would); the page lists those the accounts call it for.
    for (const id of ['praxis-a', 'praxis-b']) {
      const row = mandanten.getByRole('row').filter({ has: op().getByRole('rowheader', { name: id, exact: true }) });
      await row.waitFor();
      assert.deepEqual(await row.getByRole('cell').allInnerTexts(), ['PVS', '1', 'from the Konnektor', '–'], id);
    }
    assert.equal(await mandanten.locator('caption').innerText(), '2 Mandant(en)');
    await op().getByText('The Konnektor holds its Mandanten and their cards').waitFor();
    const cards = op().getByRole('table').filter({ has: op().locator('caption', { hasText: 'card(s)' }) });
    await cards.waitFor();
    for (const id of ['praxis-a', 'praxis-b']) {
      const card = cards.getByRole('row').filter({ has: op().getByRole('rowheader', { name: 'SMC-B' }) }).filter({ hasText: `${id} / PVS / 1` });
      assert.ok((await card.count()) >= 1, `an SMC-B of ${id}`);
      assert.notEqual(await card.first().getByRole('cell').nth(2).innerText(), 'not reported', `the PIN status of ${id}'s SMC-B`);
    }
    const send = op().locator('tr[data-outcome=send]').filter({ hasText: pb().address }).filter({ has: op().getByRole('cell', { name: pa().address, exact: true }) });
    const receive = op().locator('tr[data-outcome=receive]').filter({ hasText: pa().address }).filter({ has: op().getByRole('cell', { name: pb().address, exact: true }) });
    await send.first().waitFor();
    await receive.first().waitFor();
    assert.equal(await send.first().locator('[data-result]').innerText(), 'ok');
    assert.equal(await receive.first().locator('[data-result]').innerText(), 'ok');
    const codes = await receive.first().locator('[data-codes]').innerText();
    assert.match(codes, /X-KIM-DecryptionResult: 00/);
    assert.match(codes, /X-KIM-IntegrityCheckResult: 01/);
    const text = await op().locator('body').innerText();
    for (const w of SECRET_WORDS) assert.ok(!text.toLowerCase().includes(w.toLowerCase()), `the client module page shows "${w}"`);
    await noSeriousA11y(op(), 'console client module');
    await screenshot(op(), 'console-clientmodule');
  });

  test('4. a message for a provider that is down waits in the queue with its error; the provider is back, Retry now, and the trace shows it relayed', async () => {
    // Sent as a primary system would send an ordinary mail to another provider (no KOM-LE: the recipient has no certificate here).
    const sub = demo.endpointsFile.endpoints['smtp-submission']!;
    const t = nodemailer.createTransport({ host: sub.host, port: sub.port, secure: true, auth: { user: pa().address, pass: pa().password }, tls: { rejectUnauthorized: false } });
    await t.sendMail({ from: pa().address, to: REMOTE, subject: 'Terminabsprache', text: 'Bitte um Rückruf.' });
    t.close();
    const failed = await until('the first relay attempt failed', async () => (await demo.service.relay.admin.list({})).find((e) => e.recipient === REMOTE && e.attempts >= 1 && e.lastError));
    await openConsolePage('Relay queue');
    const row = op().getByRole('row').filter({ has: op().getByRole('rowheader', { name: REMOTE }) });
    await row.waitFor();
    assert.equal(await row.locator('[data-attempts]').innerText(), String(failed.attempts));
    assert.equal(await row.getByRole('cell').nth(5).innerText(), failed.lastError, 'the last error, as the queue has it');
    await noSeriousA11y(op(), 'console queue');

    // The remote provider is back on the route's port.
    sink = await startRelaySink(remotePort);
    await op().getByRole('button', { name: `Retry ${REMOTE} now` }).click();
    await op().getByRole('status').filter({ hasText: `Entry ${failed.id} is due now.` }).waitFor();
    await until('the sink got the message', () => sink!.delivered.length === 1);
    await until('the queue is empty', async () => (await demo.service.relay.admin.list({})).length === 0);

    await openConsolePage('Message trace');
    let kinds: string[] = [];
    await until('the trace shows the message relayed', async () => {
      kinds = await traceOf(REMOTE, pa().address);
      return kinds.includes('relayed');
    });
    assert.deepEqual(kinds, ['accepted', 'stored', 'relay-attempt', 'relay-attempt', 'relayed']);
    const attempts = op().getByRole('list', { name: /Events of message/ }).locator('[data-kind=relay-attempt]');
    assert.match(await attempts.nth(0).innerText(), /attempt 1 for extern\.test/);
    assert.match(await attempts.nth(1).innerText(), /attempt 2 for extern\.test[\s\S]*answered 250/);
    assert.match(await op().locator('[data-kind=relayed]').innerText(), /kollege@extern\.test at extern\.test/);
    await noSeriousA11y(op(), 'console trace of the relayed message');
  });

  test('5. a mail-in agent\'s run history', async (t) => {
    const databases = await demo.service.mailin.admin.listDatabases();
    if (databases.length === 0) {
      // The demo seeds no mail-in database; test/browser/console-pages.test.ts shows an agent's runs and a retried job.
      t.skip('the demo seeds no mail-in database (console-pages.test.ts covers the Mail-in page)');
      return;
    }
    await openConsolePage('Mail-in');
    await noSeriousA11y(op(), 'console mail-in');
  });

  test('no script ran, no errors on any page', () => {
    for (const who of ['a', 'b', 'op'] as const) {
      assert.deepEqual(pages[who].seen.dialogs, [], who);
      assert.deepEqual(pages[who].seen.errors.filter((e) => !/Failed to load resource/.test(e)), [], who);
    }
  });
});
