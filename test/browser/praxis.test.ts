import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { tempDir, testConfig } from '../helpers/env.js';
import { createLogger } from '../../src/core/index.js';
import { CONSOLE_CSP } from '../../src/http/index.js';
import { startDemo, type RunningDemo } from '../../src/roles/index.js';
import { NO_CHROMIUM, chromiumInstalled, launchBrowser, screenshot, seriousA11yViolations, watchPage } from '../helpers/browser.js';

const SUBJECT = '<script>alert("x")</script> Befund';
const ATTACHMENT = randomBytes(40_000);

/**
 * The Praxis-Postfach's browser UI in Debian's Chromium over the whole demo stack (service,
 * directory, Konnektor simulator, client module, Praxis-Postfach): the seed's four steps from
 * practice A to practice B in two browser contexts — A signs in, finds B in the directory,
 * writes with an attachment and a Dienstkennung, sends; B signs in, sees the message with its
 * KIM result, opens it, downloads the attachment — plus English, isolation, axe, screenshots.
 */
describe('Praxis-Postfach in Chromium', { skip: chromiumInstalled() ? false : NO_CHROMIUM }, () => {
  const d = tempDir();
  let demo: RunningDemo;
  let base: string;
  let practices: Array<{ address: string; password: string }>;
  let browser: Browser;
  let ctxA: BrowserContext;
  let ctxB: BrowserContext;
  let pageA: Page;
  let pageB: Page;
  let seenA: ReturnType<typeof watchPage>;
  let seenB: ReturnType<typeof watchPage>;
  let uid = '';

  before(async () => {
    const config = testConfig(d.path, {
      clientModule: { smtp: { starttls: { port: 0 }, implicit: { port: 0 } }, pop3: { starttls: { port: 0 }, implicit: { port: 0 } } },
      praxis: { http: { port: 0 }, login: { failureDelayMs: 20 }, limits: { maxAttachmentBytes: 100_000, maxMessageBytes: 1_000_000, inboxPageSize: 10 } },
    });
    demo = await startDemo(config, createLogger('silent'));
    const e = demo.endpointsFile.endpoints.praxis!;
    base = `http://${e.host}:${e.port}`;
    practices = demo.endpointsFile.practices as typeof practices;
    browser = await launchBrowser();
    ctxA = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    ctxB = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    pageA = await ctxA.newPage();
    pageB = await ctxB.newPage();
    seenA = watchPage(pageA);
    seenB = watchPage(pageB);
  });
  after(async () => {
    await browser?.close();
    await demo?.close();
    d.cleanup();
  });

  const pa = () => practices[0]!;
  const pb = () => practices[1]!;

  async function noSeriousA11y(page: Page, name: string): Promise<void> {
    assert.deepEqual(await seriousA11yViolations(page), [], `axe on ${name}`);
  }

  /** At a tablet's 768×1024 the page needs no horizontal scrolling; back to 1280×800 after. */
  async function fitsTablet(page: Page, name: string): Promise<void> {
    await page.setViewportSize({ width: 768, height: 1024 });
    const w = await page.evaluate<number>('document.documentElement.scrollWidth');
    await page.setViewportSize({ width: 1280, height: 800 });
    assert.ok(w <= 768, `${name}: scroll width ${w} at 768 px`);
  }

  async function signIn(page: Page, who: { address: string; password: string }): Promise<void> {
    await page.goto(`${base}/praxis/`);
    await page.getByLabel('KIM-Adresse').fill(who.address);
    await page.getByLabel('Passwort').fill(who.password);
    await page.getByRole('button', { name: 'Anmelden' }).click();
    await page.getByRole('heading', { level: 1, name: 'Posteingang' }).waitFor();
  }

  test('the app shell: the console\'s CSP and headers, no inline script or style', async () => {
    const r = await fetch(`${base}/praxis/`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /^text\/html/);
    assert.equal(r.headers.get('content-security-policy'), CONSOLE_CSP);
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
    const html = await r.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /<style|style=/, 'no inline style');
    assert.equal((await fetch(`${base}/praxis`, { redirect: 'manual' })).headers.get('location'), '/praxis/');
    // The API keeps its own, stricter policy.
    assert.equal((await fetch(`${base}/praxis/api/session`)).headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
  });

  test('A: sign-in page in German; a wrong password is refused in words, the right one opens the inbox', async () => {
    await pageA.goto(`${base}/praxis/`);
    await pageA.getByLabel('KIM-Adresse').waitFor();
    assert.equal(await pageA.evaluate<string>('document.documentElement.lang'), 'de');
    await noSeriousA11y(pageA, 'sign-in');
    await fitsTablet(pageA, 'sign-in');
    await screenshot(pageA, 'praxis-login');
    await pageA.getByLabel('KIM-Adresse').fill(pa().address);
    await pageA.getByLabel('Passwort').fill('falsches-passwort');
    await pageA.getByRole('button', { name: 'Anmelden' }).click();
    await pageA.getByRole('alert').filter({ hasText: 'KIM-Adresse oder Passwort falsch.' }).waitFor();
    await pageA.getByLabel('Passwort').fill(pa().password);
    await pageA.keyboard.press('Enter');
    await pageA.getByRole('heading', { level: 1, name: 'Posteingang' }).waitFor();
    await pageA.getByText(`Angemeldet als ${pa().address}`).waitFor();
    const cookies = await ctxA.cookies();
    assert.deepEqual(cookies.map((c) => [c.name, c.httpOnly, c.sameSite, c.path]), [['praxis_session', true, 'Strict', '/praxis']]);
  });

  test('A: Empfänger suchen finds B; "als Empfänger übernehmen" puts B into the draft', async () => {
    await pageA.getByRole('navigation', { name: 'Hauptnavigation' }).getByRole('link', { name: 'Empfänger suchen' }).click();
    await pageA.getByRole('heading', { level: 1, name: 'Empfänger suchen' }).waitFor();
    await pageA.getByLabel('Name', { exact: true }).fill('Praxis B');
    await pageA.getByRole('button', { name: 'Suchen' }).click();
    await pageA.getByText('1 Eintrag gefunden.').waitFor();
    await pageA.getByText('Praxis B (Demo)').waitFor();
    await pageA.getByText('1-20014712').waitFor();
    assert.match(await pageA.locator('.hit .hint').filter({ hasText: 'Telematik-ID' }).innerText(), /KIM-Version: 1\.5$/, 'the version, not the raw kimData');
    // The free text finds both practices; the Telematik-ID only B.
    await pageA.getByLabel('Name', { exact: true }).fill('');
    await pageA.getByLabel('Freitext (Name, Adresse, Ort, Telematik-ID)').fill('Praxis');
    await pageA.getByRole('button', { name: 'Suchen' }).click();
    await pageA.getByText('2 Einträge gefunden.').waitFor();
    await noSeriousA11y(pageA, 'search');
    await fitsTablet(pageA, 'search');
    await screenshot(pageA, 'praxis-search');
    await pageA.getByRole('button', { name: `${pb().address} als Empfänger übernehmen` }).click();
    await pageA.getByRole('status').filter({ hasText: `${pb().address} wurde als Empfänger übernommen.` }).waitFor();
    assert.match(await pageA.evaluate<string>('document.activeElement?.textContent ?? ""'), /in der Nachricht/, 'the focus stays where the button was');
    // An input the server refuses is answered in words.
    await pageA.getByLabel('Freitext (Name, Adresse, Ort, Telematik-ID)').fill('x');
    await pageA.getByRole('button', { name: 'Suchen' }).click();
    await pageA.getByRole('alert').filter({ hasText: 'at least 2 characters' }).waitFor();
  });

  test('A: writes with an attachment and a Dienstkennung and sends; every recipient accepted', async () => {
    await pageA.getByRole('link', { name: 'Nachricht schreiben' }).click();
    await pageA.getByRole('heading', { level: 1, name: 'Nachricht schreiben' }).waitFor();
    assert.equal(await pageA.getByLabel('An', { exact: true }).inputValue(), pb().address, 'the recipient from the search');
    await pageA.getByLabel('Betreff').fill(SUBJECT);
    await pageA.getByLabel('Text', { exact: true }).fill('Sehr geehrte Kollegin,\nanbei der Befund.\n');
    await pageA.getByLabel('Dienstkennung', { exact: true }).selectOption('eAU;Lieferung;V1.0');
    await pageA.getByLabel('Dateien anhängen').setInputFiles({ name: 'befund-ä.pdf', mimeType: 'application/pdf', buffer: ATTACHMENT });
    await pageA.getByText('befund-ä.pdf').waitFor();
    await noSeriousA11y(pageA, 'compose');
    await fitsTablet(pageA, 'compose');
    await screenshot(pageA, 'praxis-compose');
    await pageA.getByRole('button', { name: 'Senden' }).click();
    await pageA.getByRole('status').filter({ hasText: 'alle Empfänger wurden angenommen' }).waitFor();
    const row = pageA.getByRole('row').filter({ has: pageA.getByRole('rowheader', { name: pb().address }) });
    assert.equal(await row.getByRole('cell').first().innerText(), 'angenommen');
    assert.match(await row.getByRole('cell').nth(1).innerText(), /^250\b/);
    await noSeriousA11y(pageA, 'compose with the result');
    await screenshot(pageA, 'praxis-sent');
    assert.equal(await pageA.getByLabel('Betreff').inputValue(), '', 'the draft is cleared after sending');
  });

  test('A: a recipient the client module refuses is shown as refused, and a free Dienstkennung is checked', async () => {
    await pageA.getByLabel('An', { exact: true }).fill('unbekannt@praxis.kim.test');
    await pageA.getByLabel('Dienstkennung', { exact: true }).selectOption({ label: 'andere (freie Eingabe)' });
    await pageA.getByLabel('Dienstkennung (frei)').fill('nur-eins');
    await pageA.getByRole('button', { name: 'Senden' }).click();
    await pageA.getByRole('alert').filter({ hasText: /dienstkennung/i }).waitFor();
    await pageA.getByLabel('Dienstkennung', { exact: true }).selectOption('KIM-Mail;Default;V1.0');
    await pageA.getByRole('button', { name: 'Senden' }).click();
    await pageA.getByRole('alert').filter({ hasText: 'Nicht alle Empfänger wurden angenommen.' }).waitFor();
    const row = pageA.getByRole('row').filter({ has: pageA.getByRole('rowheader', { name: 'unbekannt@praxis.kim.test' }) });
    assert.equal(await row.getByRole('cell').first().innerText(), 'abgelehnt');
  });

  test("B: signs in; the inbox shows A's message with the badge \"Entschlüsselt, Signatur gültig\"; the <script> subject is text", async () => {
    await signIn(pageB, pb());
    const item = pageB.getByRole('list', { name: 'Nachrichten, neueste zuerst' }).getByRole('listitem').filter({ has: pageB.getByRole('link', { name: SUBJECT }) });
    await item.waitFor();
    assert.equal(await item.getByRole('link', { name: SUBJECT }).innerText(), SUBJECT, 'the subject renders as the characters it is');
    assert.match(await item.locator('.from').innerText(), /praxis-a@praxis\.kim\.test/);
    assert.equal(await item.locator('.dk').innerText(), 'eAU;Lieferung;V1.0');
    const badge = item.locator('.badge');
    assert.equal(await badge.getAttribute('data-kim-status'), 'ok');
    assert.equal(await badge.innerText(), 'in Ordnung: Entschlüsselt, Signatur gültig');
    assert.equal(await pageB.locator('main script').count(), 0, 'no script element was made from the subject');
    await noSeriousA11y(pageB, 'inbox');
    await fitsTablet(pageB, 'inbox');
    await screenshot(pageB, 'praxis-inbox');
    assert.deepEqual(seenB.dialogs, [], 'no script from the subject ran');
  });

  test('B: opens the message — header, text as text — and the attachment downloads with the right bytes', async () => {
    await pageB.getByRole('link', { name: SUBJECT }).click();
    await pageB.getByRole('heading', { level: 1, name: SUBJECT }).waitFor();
    uid = decodeURIComponent(/#\/message\/(.+)$/.exec(pageB.url())![1]!);
    const body = await pageB.locator('pre.body').innerText();
    assert.match(body, /anbei der Befund/);
    assert.match(body, /Die Nachricht wurde entschlüsselt/, "the client module's Vermerk");
    await pageB.getByText('DecryptionResult 00, IntegrityCheckResult 01', { exact: false }).waitFor();
    const [download] = await Promise.all([pageB.waitForEvent('download'), pageB.getByRole('link', { name: 'befund-ä.pdf' }).click()]);
    assert.equal(download.suggestedFilename(), 'befund-ä.pdf');
    assert.ok(readFileSync((await download.path())!).equals(ATTACHMENT), 'the downloaded bytes are the sent ones');
    await noSeriousA11y(pageB, 'message');
    await fitsTablet(pageB, 'message');
    await screenshot(pageB, 'praxis-message');
    assert.deepEqual(seenB.dialogs, []);
  });

  test("isolation: A's session cannot read B's message (404), no session reads nothing (401)", async () => {
    assert.ok(uid);
    const path = `/praxis/api/messages/${encodeURIComponent(uid)}`;
    const status = (page: Page, p: string) => page.evaluate(async (url) => (await fetch(url)).status, p);
    assert.equal(await status(pageA, path), 404);
    assert.equal(await status(pageA, `${path}/attachments/0`), 404);
    assert.equal(await status(pageB, path), 200, 'B still reads its own');
    const anon = await browser.newContext();
    const pageAnon = await anon.newPage();
    await pageAnon.goto(`${base}/praxis/`);
    assert.equal(await status(pageAnon, path), 401);
    assert.equal(await status(pageAnon, '/praxis/api/messages'), 401);
    await anon.close();
    // A message in A's mailbox (B sends one through the API) is not B's to read either.
    const sent = await pageB.evaluate(async (to) => {
      const s = (await (await fetch('/praxis/api/session')).json()) as { csrfToken: string };
      const r = await fetch('/praxis/api/messages', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrfToken }, body: JSON.stringify({ to: [to], subject: 'Rückfrage', text: 'Danke!' }) });
      return r.status;
    }, pa().address);
    assert.equal(sent, 200);
    const aUid = await pageA.evaluate(async () => ((await (await fetch('/praxis/api/messages')).json()) as { messages: Array<{ uid: string; subject: string }> }).messages.find((m) => m.subject === 'Rückfrage')?.uid);
    assert.ok(aUid, "the reply is in A's inbox");
    assert.equal(await status(pageB, `/praxis/api/messages/${encodeURIComponent(aUid)}`), 404);
    assert.equal(await status(pageA, `/praxis/api/messages/${encodeURIComponent(aUid)}`), 200);
  });

  test("the client module's failure message is marked as such in the inbox", async () => {
    const sub = demo.endpointsFile.endpoints['smtp-submission']!;
    const t = nodemailer.createTransport({ host: sub.host, port: sub.port, secure: true, auth: { user: pb().address, pass: pb().password }, tls: { rejectUnauthorized: false } });
    await t.sendMail({ envelope: { from: pb().address, to: [pb().address] }, raw: `From: ${pb().address}\r\nTo: ${pb().address}\r\nSubject: kaputt\r\nX-KOM-LE-Version: 1.5\r\nMIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=authenticated-enveloped-data\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n` });
    t.close();
    await pageB.getByRole('link', { name: 'Zurück zum Posteingang' }).click();
    await pageB.getByRole('button', { name: 'Aktualisieren' }).click();
    const item = pageB.getByRole('listitem').filter({ has: pageB.getByRole('link', { name: 'Die Nachricht konnte nicht entschlüsselt werden' }) });
    await item.waitFor();
    assert.equal(await item.locator('.tag-failure').innerText(), 'Fehlermeldung des Clientmoduls');
    assert.equal(await item.locator('.badge').getAttribute('data-kim-status'), 'error');
    await item.getByRole('link').click();
    await pageB.getByRole('note').filter({ hasText: 'Fehlermeldung des Clientmoduls' }).waitFor();
    await noSeriousA11y(pageB, 'failure message');
    await pageB.getByRole('link', { name: 'Zurück zum Posteingang' }).click();
  });

  test('English: the toggle switches every label and <html lang>, and is remembered', async () => {
    await pageB.getByRole('heading', { level: 1, name: 'Posteingang' }).waitFor();
    await pageB.getByRole('button', { name: 'Switch to English' }).click();
    await pageB.getByRole('heading', { level: 1, name: 'Inbox' }).waitFor();
    assert.equal(await pageB.evaluate<string>('document.documentElement.lang'), 'en');
    const nav = pageB.getByRole('navigation', { name: 'Main navigation' });
    for (const name of ['Inbox', 'Write a message', 'Find recipients']) await nav.getByRole('link', { name }).waitFor();
    await pageB.getByRole('button', { name: 'Sign out' }).waitFor();
    const item = pageB.getByRole('listitem').filter({ has: pageB.getByRole('link', { name: SUBJECT }) });
    assert.equal(await item.locator('.badge').innerText(), 'fine: Decrypted, signature valid');
    await pageB.reload();
    await pageB.getByRole('heading', { level: 1, name: 'Inbox' }).waitFor();
    assert.equal(await pageB.evaluate<string>('document.documentElement.lang'), 'en', 'kept in localStorage');
    await pageB.getByRole('link', { name: 'Write a message' }).click();
    for (const label of ['To', 'Subject', 'Text', 'Attach files']) await pageB.getByLabel(label, { exact: true }).waitFor();
    await noSeriousA11y(pageB, 'compose in English');
    await pageB.getByRole('button', { name: 'Auf Deutsch umschalten' }).click();
    await pageB.getByRole('heading', { level: 1, name: 'Nachricht schreiben' }).waitFor();
    assert.equal(await pageB.evaluate<string>('document.documentElement.lang'), 'de');
  });

  test('the inbox is paged: newest first, Nächste Seite / Vorherige Seite', async () => {
    const sub = demo.endpointsFile.endpoints['smtp-submission']!;
    const t = nodemailer.createTransport({ pool: true, maxConnections: 1, host: sub.host, port: sub.port, secure: true, auth: { user: pb().address, pass: pb().password }, tls: { rejectUnauthorized: false } });
    for (let i = 0; i < 10; i++) await t.sendMail({ from: pb().address, to: pb().address, subject: `Notiz ${i}`, text: `Nummer ${i}` });
    t.close();
    await pageB.getByRole('navigation', { name: 'Hauptnavigation' }).getByRole('link', { name: 'Posteingang' }).click();
    await pageB.getByRole('heading', { level: 1, name: 'Posteingang' }).waitFor();
    await pageB.getByRole('button', { name: 'Aktualisieren' }).click();
    await pageB.getByText(/· Seite 1 von 2$/).waitFor();
    const subjects = () => pageB.getByRole('list', { name: 'Nachrichten, neueste zuerst' }).locator('a.subject').allInnerTexts();
    const first = await subjects();
    assert.equal(first.length, 10, 'a page of inboxPageSize');
    assert.equal(first[0], 'Notiz 9', 'newest first');
    await pageB.getByRole('button', { name: 'Nächste Seite' }).click();
    await pageB.getByText(/· Seite 2 von 2$/).waitFor();
    assert.ok((await subjects()).includes(SUBJECT), "A's older message is on the second page");
    assert.ok(await pageB.getByRole('button', { name: 'Nächste Seite' }).isDisabled());
    await pageB.getByRole('button', { name: 'Vorherige Seite' }).click();
    await pageB.getByText(/· Seite 1 von 2$/).waitFor();
  });

  test('B: deletes the message; it is gone from the inbox', async () => {
    await pageB.goto(`${base}/praxis/#/message/${encodeURIComponent(uid)}`);
    await pageB.getByRole('heading', { level: 1, name: SUBJECT }).waitFor();
    await pageB.getByRole('button', { name: 'Löschen' }).click();
    await pageB.getByRole('button', { name: 'Ja, löschen' }).click();
    await pageB.getByRole('status').filter({ hasText: 'Die Nachricht wurde gelöscht.' }).waitFor();
    await pageB.getByRole('heading', { level: 1, name: 'Posteingang' }).waitFor();
    await pageB.getByRole('list', { name: 'Nachrichten, neueste zuerst' }).waitFor();
    assert.equal(await pageB.getByRole('link', { name: SUBJECT }).count(), 0);
    assert.equal(await pageB.evaluate(async (url) => (await fetch(url)).status, `/praxis/api/messages/${encodeURIComponent(uid)}`), 404);
  });

  test('a session that ended elsewhere sends the page back to Anmelden, saying so', async () => {
    const c = await browser.newContext();
    const p = await c.newPage();
    await signIn(p, pa());
    // The session ends behind the page's back (as after idleMs or a restart).
    assert.equal(await p.evaluate(async () => {
      const s = (await (await fetch('/praxis/api/session')).json()) as { csrfToken: string };
      return (await fetch('/praxis/api/logout', { method: 'POST', headers: { 'x-csrf-token': s.csrfToken } })).status;
    }), 204);
    await p.getByRole('link', { name: 'Nachricht schreiben' }).click();
    await p.getByRole('link', { name: 'Posteingang' }).click();
    await p.getByRole('status').filter({ hasText: 'Ihre Sitzung ist abgelaufen.' }).waitFor();
    await p.getByLabel('KIM-Adresse').waitFor();
    await c.close();
  });

  test('Abmelden ends the session: the API answers 401 to the same cookie', async () => {
    const cookie = (await ctxA.cookies())[0]!;
    await pageA.getByRole('button', { name: 'Abmelden' }).click();
    await pageA.getByRole('status').filter({ hasText: 'Sie sind abgemeldet.' }).waitFor();
    await pageA.getByLabel('KIM-Adresse').waitFor();
    const r = await fetch(`${base}/praxis/api/session`, { headers: { cookie: `${cookie.name}=${cookie.value}` } });
    assert.equal(r.status, 401);
    assert.deepEqual(seenA.dialogs, []);
    assert.deepEqual(seenA.errors.filter((e) => !/401|404|422|400|Failed to load resource/.test(e)), []);
    assert.deepEqual(seenB.errors.filter((e) => !/401|404|422|400|Failed to load resource/.test(e)), []);
  });
});
