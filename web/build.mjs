// Builds each front-end app under web/ (a folder with index.html) into dist/web/<app>/, served
// at /<app>/. An app that does not exist yet is skipped, so a later one needs no change here.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import preact from '@preact/preset-vite';

const web = dirname(fileURLToPath(import.meta.url));
const apps = readdirSync(web, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(web, d.name, 'index.html')))
  .map((d) => d.name);

for (const app of apps) {
  await build({
    configFile: false,
    root: join(web, app),
    base: `/${app}/`,
    logLevel: 'warn',
    plugins: [preact({ prerender: { enabled: false } })],
    build: {
      outDir: join(web, '..', 'dist', 'web', app),
      emptyOutDir: true,
      // CSP: no data: fonts or inline anything; the preload polyfill would be code we do not need.
      assetsInlineLimit: 0,
      modulePreload: { polyfill: false },
      cssCodeSplit: false,
      sourcemap: false,
      reportCompressedSize: false,
    },
  });
  console.log(`web: built ${app} into dist/web/${app}/`);
}
