import path from 'node:path';
import { buildWorker } from '../../worker/worker-command';
import { BUILD_ERROR_VARIABLE } from './built';

/**
 * Jest's global setup: `npm run build` once per run, before any test file. The engine tests' in-process workers load
 * dist/workflow-bundle.js and their spawned worker processes run dist/worker.js, as the product does; both are of the
 * sources as they are now. A failed build does not stop the run: the tests that need it fail with its output
 * (test/support/built.ts), the others run.
 */
export default async function globalSetup(): Promise<void> {
  try {
    await buildWorker(path.resolve(__dirname, '../..'));
  } catch (err) {
    const message = (err as Error).message;
    console.error(`\n${message}\nTests that run a worker will fail.`);
    // The test files run in processes started after this, with this environment.
    process.env[BUILD_ERROR_VARIABLE] = message;
  }
}
