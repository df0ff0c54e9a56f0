import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the built front end of `app` is: dist/web/<app> under the package root (the nearest
 * directory above this file with package.json), or undefined when it was not built.
 */
export function builtWebApp(app: string, from = dirname(fileURLToPath(import.meta.url))): string | undefined {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) {
      const root = join(dir, 'dist', 'web', app);
      return existsSync(join(root, 'index.html')) ? root : undefined;
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}
