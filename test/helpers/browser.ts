import { existsSync, mkdirSync, copyFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';
import { repositoryPath } from './env.js';

/** Debian's Chromium; the browser tests skip with this message when it is missing. */
export const CHROMIUM = process.env.POSTAMT_CHROMIUM ?? '/usr/bin/chromium';
export const NO_CHROMIUM = `no Chromium at ${CHROMIUM}: apt-get install chromium (or set POSTAMT_CHROMIUM) to run the browser tests`;

export function chromiumInstalled(): boolean {
  return existsSync(CHROMIUM);
}

/** Headless Chromium as CI runs it: no sandbox (root), no GPU, no background traffic. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/**
 * A screenshot of the page into test-output/screenshots/<name>.png (gitignored); with
 * POSTAMT_UPDATE_SCREENSHOTS=1 also into docs/images/<name>.png, which the docs show — unless
 * `docs: false`: another test makes that page's picture for the docs.
 */
export async function screenshot(page: Page, name: string, opts: { docs?: boolean } = {}): Promise<string> {
  const file = repositoryPath('test-output', 'screenshots', `${name}.png`);
  mkdirSync(dirname(file), { recursive: true });
  await page.screenshot({ path: file, fullPage: true });
  if (process.env.POSTAMT_UPDATE_SCREENSHOTS === '1' && opts.docs !== false) {
    const doc = repositoryPath('docs', 'images', `${name}.png`);
    mkdirSync(dirname(doc), { recursive: true });
    copyFileSync(file, doc);
  }
  return file;
}

/** axe-core's serious and critical findings on the page as it is now (WCAG 2.1 A/AA rules), one line each. */
export async function seriousA11yViolations(page: Page): Promise<string[]> {
  const r = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  return r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join('; ')})`);
}

/** Collects what the page says on its console and the dialogs it opens (an XSS would alert). */
export function watchPage(page: Page): { dialogs: string[]; errors: string[] } {
  const seen = { dialogs: [] as string[], errors: [] as string[] };
  page.on('dialog', (d) => {
    seen.dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  page.on('pageerror', (e) => seen.errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') seen.errors.push(m.text());
  });
  return seen;
}

/** Signs in to the admin console at `base` with the admin token, as an operator does, and waits for the overview. */
export async function signInToConsole(page: Page, base: string, token: string): Promise<void> {
  await page.goto(`${base}/console/`);
  await page.getByLabel('Admin token').fill(token);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
}
