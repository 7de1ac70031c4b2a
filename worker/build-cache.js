'use strict';
/**
 * Files built once per version of their sources: the worker's compiled JavaScript (launch.js) and the
 * workflow bundle (workflow-bundle.ts). Plain JavaScript, so the launcher needs no TypeScript hook.
 */
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

/**
 * A hash of the files under `dirs` whose names end in one of `extensions`, and of `files`, all relative to
 * `root` (names and contents; a missing one is skipped).
 */
function sourceHash(root, { dirs, files = [], extensions }) {
  const hash = createHash('sha256');
  const all = dirs.flatMap((dir) => listFiles(path.join(root, dir), extensions));
  all.push(...files.map((file) => path.join(root, file)));
  for (const file of all.sort()) {
    if (!fs.existsSync(file)) continue;
    hash.update(path.relative(root, file)).update('\0').update(fs.readFileSync(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

function listFiles(dir, extensions) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return listFiles(full, extensions);
    return extensions.some((extension) => entry.name.endsWith(extension)) ? [full] : [];
  });
}

/**
 * `file`, made by `build(partial)` if it does not exist yet. The build writes a temporary name that is then
 * renamed, so two processes starting together never use half a file; a failed build leaves nothing behind.
 */
function buildOnce(file, build) {
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  try {
    build(partial);
    fs.renameSync(partial, file);
  } finally {
    fs.rmSync(partial, { force: true });
  }
  return file;
}

module.exports = { buildOnce, sourceHash };
