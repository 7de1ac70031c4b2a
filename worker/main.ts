import { readConfig } from '../shared/config';
import { resolveConnectionSettings } from '../client/connection-settings';
import { startWorker } from './create-worker';

/** The worker process: `tsx worker/main.ts`. Stops cleanly on SIGINT/SIGTERM (Temporal's Runtime handles both). */
async function main(): Promise<void> {
  const config = readConfig();
  const settings = resolveConnectionSettings(config);
  const running = await startWorker({
    temporalAddress: settings.temporalAddress,
    namespace: settings.namespace,
    databaseUrl: settings.databaseUrl,
    // A bundle built ahead (`npm run build:workflows`) spares the worker webpack's start-up time and memory.
    ...(process.env.DATAFLOW_WORKFLOW_BUNDLE ? { workflowBundle: { codePath: process.env.DATAFLOW_WORKFLOW_BUNDLE } } : {}),
  });
  console.log(`worker: polling ${settings.temporalAddress} (namespace ${settings.namespace})`);
  await running.done;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
