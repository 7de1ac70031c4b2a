import { Runtime } from '@temporalio/worker';
import { readConfig } from '../shared/config';
import { resolveConnectionSettings } from '../shared/connection-settings';
import { dataflowMetrics } from '../activities/dataflow-metrics';
import { startWorker, type RunningWorker } from './create-worker';
import { readMetricsAddress } from './metrics-address';
import { workflowBundleFile } from './build-output';

/**
 * The worker process, started as `node dist/worker.js` (`npm run worker`), the file `npm run build` compiles this one
 * into. On SIGTERM or SIGINT it stops polling, hands back the tables it is extracting (they resume elsewhere from their
 * checkpoint) and lets short steps finish; a second signal exits at once.
 */
async function main(): Promise<void> {
  const config = readConfig();
  const settings = resolveConnectionSettings(config);
  const metricsAddress = readMetricsAddress();
  // The signals are ours (not the Runtime's), so a shutdown always goes through RunningWorker.shutdown().
  Runtime.install({
    shutdownSignals: [],
    ...(metricsAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress } } } } : {}),
  });
  const starting: Promise<RunningWorker> = startWorker({
    temporalAddress: settings.temporalAddress,
    namespace: settings.namespace,
    databaseUrl: settings.databaseUrl,
    temporalSecurity: settings.temporalSecurity,
    // Never webpack in the worker: the bundle `npm run build` wrote, or the one DATAFLOW_WORKFLOW_BUNDLE names.
    workflowBundle: { codePath: workflowBundleFile(process.env.DATAFLOW_WORKFLOW_BUNDLE) },
    activities: metricsAddress ? { metrics: dataflowMetrics(Runtime.instance().metricMeter) } : undefined,
  });
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1);
      stopping = true;
      console.log(`worker: ${signal}: handing back extractions, finishing short steps`);
      // A signal while still starting stops the worker as soon as it runs.
      void starting.then((worker) => worker.shutdown()).catch(() => undefined);
    });
  }
  const running = await starting;
  if (metricsAddress) console.log(`worker: metrics on http://${metricsAddress}/metrics`);
  console.log(`worker: polling ${settings.temporalAddress} (namespace ${settings.namespace})`);
  await running.done;
  console.log('worker: stopped');
}

main().catch((err: unknown) => {
  // Errors of our own are worded for the user; an unexpected one keeps its stack.
  const worded =
    err instanceof Error && ['UserInputError', 'TemporalConnectError', 'MissingBuildError'].includes(err.name);
  console.error(worded ? `worker: ${(err as Error).message}` : err);
  process.exit(1);
});
