import path from 'node:path';
import { builtFiles, requireBuilt, type BuiltFiles } from '../../worker/build-output';

/** Set by the global setup (global-setup.ts) when this run's `npm run build` failed: its output. */
export const BUILD_ERROR_VARIABLE = 'DATAFLOW_TEST_BUILD_ERROR';

const ROOT = path.resolve(__dirname, '../..');

/**
 * What this jest run's `npm run build` wrote: dist/worker.js and dist/workflow-bundle.js. If that build failed, its
 * error, rather than whatever an earlier build left in dist/.
 */
export function testBuild(): BuiltFiles {
  const failed = process.env[BUILD_ERROR_VARIABLE];
  if (failed) throw new Error(`This run's build (jest's global setup) failed: ${failed}`);
  const files = builtFiles(ROOT);
  requireBuilt(files.worker, 'The worker');
  requireBuilt(files.workflowBundle, 'The workflow bundle');
  return files;
}
