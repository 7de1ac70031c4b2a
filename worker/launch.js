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
const path = require('node:path');
const { buildOnce, sourceHash: hashSources } = require('./build-cache');

/** What the worker is built from: the directories its imports reach, and what decides how they compile. */
const SOURCES = {
  dirs: ['activities', 'klaviyo', 'warehouse', 'control-plane', 'secrets', 'client', 'shared', 'stack', 'worker', 'workflows'],
  files: ['package-lock.json', 'tsconfig.json'],
  extensions: ['.ts', '.json', '.js'],
};

/** A hash of the worker's sources under `root`. */
function sourceHash(root) {
  return hashSources(root, SOURCES);
}

/**
 * The compiled worker of the sources under `root`: built if missing, else the cached file. Dependencies stay
 * outside the file (`require`d from the project's node_modules, which the cache sits inside).
 * @param cacheDir @default <root>/node_modules/.cache/dataflows-worker
 */
function compiledWorker(root, cacheDir = path.join(root, 'node_modules', '.cache', 'dataflows-worker')) {
  return buildOnce(path.join(cacheDir, `${sourceHash(root)}.js`), (partial) =>
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
    }),
  );
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
