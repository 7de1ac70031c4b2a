import { readConfig } from '../shared/config';
import { resolveConnectionSettings } from '../client/connection-settings';
import { startWorker } from './create-worker';
import { workflowBundlePath } from './workflow-bundle';

/** The worker process, started as `node worker/launch.js` (`npm run worker`). Stops cleanly on SIGINT/SIGTERM (Temporal's Runtime handles both). */
async function main(): Promise<void> {
  const config = readConfig();
  const settings = resolveConnectionSettings(config);
  const running = await startWorker({
    temporalAddress: settings.temporalAddress,
    namespace: settings.namespace,
    databaseUrl: settings.databaseUrl,
    // Never webpack in the worker: a bundle given (`npm run build:workflows`) or built once into a cache.
    workflowBundle: {
      codePath: workflowBundlePath({ explicit: process.env.DATAFLOW_WORKFLOW_BUNDLE, dataDir: config.dataDir }),
    },
  });
  console.log(`worker: polling ${settings.temporalAddress} (namespace ${settings.namespace})`);
  await running.done;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
