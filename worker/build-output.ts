import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../stack/project-root';

/**
 * What `npm run build` (worker/build.ts) writes, and nothing else: the worker compiled to one JavaScript file, and the
 * Temporal workflow bundle it loads. Light on purpose (no esbuild, no webpack): the worker, the stack, the bench and
 * the tests read these paths.
 */
export interface BuiltFiles {
  /** The worker process's entry (worker/main.ts and everything it imports but packages). */
  worker: string;
  /** The workflow code bundled for Temporal's sandbox (workflows/ and what it imports). */
  workflowBundle: string;
}

export function builtFiles(root: string, outDir = path.join(root, 'dist')): BuiltFiles {
  return { worker: path.join(outDir, 'worker.js'), workflowBundle: path.join(outDir, 'workflow-bundle.js') };
}

/** A file of the build is missing: the message says to build. */
export class MissingBuildError extends Error {
  override readonly name = 'MissingBuildError';
}

/** `file` if it exists, else a MissingBuildError naming it (as `what`) and the command that writes it. */
export function requireBuilt(file: string, what: string): string {
  if (!fs.existsSync(file)) {
    throw new MissingBuildError(`${what} ${file} does not exist: run \`npm run build\` first.`);
  }
  return file;
}

/**
 * The workflow bundle the worker loads: `explicit` (DATAFLOW_WORKFLOW_BUNDLE) as given, else dist/workflow-bundle.js
 * of the build. Never built here: webpack inside the worker costs seconds and memory it keeps.
 */
export function workflowBundleFile(explicit?: string, root?: string): string {
  if (!explicit) return requireBuilt(builtFiles(root ?? projectRoot()).workflowBundle, 'The workflow bundle');
  const file = path.resolve(explicit);
  if (!fs.existsSync(file)) {
    throw new MissingBuildError(
      `DATAFLOW_WORKFLOW_BUNDLE names ${file}, which does not exist: unset it to use dist/workflow-bundle.js, or ` +
        'run `npm run build` and point it at what that writes.',
    );
  }
  return file;
}
