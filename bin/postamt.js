#!/usr/bin/env node
// The `postamt` command. The TypeScript sources are compiled to dist/ by `npm install`
// (the `prepare` script) and by `npm run build`.
import { main } from '../dist/src/cli/main.js';

main(process.argv).catch((err) => {
  process.stderr.write(`postamt: ${err?.message ?? err}\n`);
  process.exitCode = 1;
});
