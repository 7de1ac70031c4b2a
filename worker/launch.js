'use strict';
/**
 * The worker process's entry: `node worker/launch.js` (what `npm run worker`, the stack, the bench, the tests
 * and the Dockerfile start). It runs worker/main.ts as one JavaScript file, compiled by esbuild once per
 * version of the sources into node_modules/.cache/dataflows-worker/<hash>.js. Running the TypeScript through
 * tsx instead kept tsx, its transforms and their source maps in the worker: some 15–35 MB of its memory.
 *
 * The hash covers every source the worker is built from (and the lock file and tsconfig), so an edit is
 * picked up at the next start; there is no build step to forget. Where the cache cannot be written, the
 * worker runs the sources through tsx, as before, and says so.
 *
 * Plain JavaScript, so that starting the worker needs no TypeScript hook.
 */
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

/** What the worker is built from: the directories its imports reach, and what decides how they compile. */
const SOURCE_DIRS = ['activities', 'client', 'shared', 'stack', 'worker', 'workflows'];
const SOURCE_FILES = ['package-lock.json', 'tsconfig.json'];

/** A hash of the worker's sources under `root`. */
function sourceHash(root) {
  const hash = createHash('sha256');
  const files = SOURCE_DIRS.flatMap((dir) => listSources(path.join(root, dir)));
  files.push(...SOURCE_FILES.map((file) => path.join(root, file)));
  for (const file of files.sort()) {
    if (!fs.existsSync(file)) continue;
    hash.update(path.relative(root, file)).update('\0').update(fs.readFileSync(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

function listSources(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return listSources(full);
    return /\.(ts|json|js)$/.test(entry.name) ? [full] : [];
  });
}

/**
 * The compiled worker of the sources under `root`: built if missing, else the cached file. Dependencies stay
 * outside the file (`require`d from the project's node_modules, which the cache sits inside).
 * @param cacheDir @default <root>/node_modules/.cache/dataflows-worker
 */
function compiledWorker(root, cacheDir = path.join(root, 'node_modules', '.cache', 'dataflows-worker')) {
  const file = path.join(cacheDir, `${sourceHash(root)}.js`);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(cacheDir, { recursive: true });
  // Written under a temporary name and renamed: two workers starting together never run half a file.
  const partial = `${file}.${process.pid}.partial`;
  try {
    require('esbuild').buildSync({
      absWorkingDir: root,
      entryPoints: [path.join(root, 'worker', 'main.ts')],
      outfile: partial,
      bundle: true,
      packages: 'external',
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      logLevel: 'error',
    });
    fs.renameSync(partial, file);
  } finally {
    fs.rmSync(partial, { force: true });
  }
  return file;
}

module.exports = { compiledWorker, sourceHash };

if (require.main === module) {
  const root = path.resolve(__dirname, '..');
  let file;
  try {
    file = compiledWorker(root);
  } catch (err) {
    if (process.argv.includes('--build-only')) throw err;
    console.error(`worker: could not compile the worker (${err.message}); running its sources through tsx`);
  }
  if (process.argv.includes('--build-only')) {
    console.log(file);
  } else if (file) {
    require(file);
  } else {
    require('tsx/cjs');
    require(path.join(root, 'worker', 'main.ts'));
  }
}
