import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { build as esbuild } from 'esbuild';
import { projectRoot } from '../stack/project-root';
import { builtFiles, type BuiltFiles } from './build-output';

/**
 * `npm run build` (also run by `npm ci`/`npm install` through `prepare`, by the stack before it starts the worker,
 * by the bench and once per jest run): writes dist/worker.js and dist/workflow-bundle.js, what the worker process
 * runs (`node dist/worker.js`). The worker never compiles or bundles at start.
 *
 * - dist/worker.js: worker/main.ts and the project's modules it imports, compiled by esbuild into one file that
 *   `require`s its packages from node_modules. Running the TypeScript through tsx instead kept tsx, its transforms
 *   and their source maps in the worker: some 15–35 MB of its memory.
 * - dist/workflow-bundle.js: the workflow code bundled by Temporal (webpack) once, here, instead of inside every
 *   worker at start (seconds, and some hundred MB of peak memory the worker never gives back).
 *
 * Each file is written under a temporary name and renamed, so a worker starting during a build (or two builds at
 * once, e.g. two jest runs) never reads half a file.
 */
export async function build(root = projectRoot(), outDir?: string): Promise<BuiltFiles> {
  const files = builtFiles(root, outDir);
  fs.mkdirSync(path.dirname(files.worker), { recursive: true });
  await Promise.all([
    writeAtomically(files.worker, (partial) =>
      esbuild({
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
    ),
    writeAtomically(files.workflowBundle, async (partial) => {
      const { code } = await bundleWorkflowCode({
        workflowsPath: path.join(root, 'workflows', 'index.ts'),
        logger: quietLogger,
      });
      fs.writeFileSync(partial, code);
    }),
  ]);
  return files;
}

async function writeAtomically(file: string, write: (partial: string) => Promise<unknown>): Promise<void> {
  const partial = `${file}.${process.pid}.partial`;
  try {
    await write(partial);
    fs.renameSync(partial, file);
  } finally {
    fs.rmSync(partial, { force: true });
  }
}

/** Webpack's progress lines stay out of `npm ci`'s output; its warnings and errors do not. */
const noop = (): void => undefined;
const warn = (message: string): void => console.warn(`build: ${message}`);
const quietLogger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn,
  error: warn,
  log: (level: string, message: string) => (level === 'WARN' || level === 'ERROR' ? warn(message) : undefined),
};

if (require.main === module) {
  const started = Date.now();
  const outDir = process.argv[2] ? path.resolve(process.argv[2]) : undefined;
  build(projectRoot(), outDir)
    .then((files) => {
      const shown = [files.worker, files.workflowBundle].map((file) => {
        const relative = path.relative(process.cwd(), file);
        return relative.startsWith('..') ? file : relative;
      });
      console.log(`build: ${shown.join(' and ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
