import fs from 'node:fs';
import path from 'node:path';

/**
 * The project's root directory: the nearest ancestor of this file holding a package.json.
 * Walking up (instead of `..`) keeps it right when running from `dist/stack/` as well as from the sources.
 */
export function projectRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`No package.json above ${__dirname}`);
    dir = parent;
  }
}
