import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { Pool } from 'pg';
import { createActivities, type ActivityDependencies } from '../activities/dataflow-activities';
import { migrateToLatest } from '../activities/control-plane/migrate';
import { TASK_QUEUE } from '../shared/config';
import { heartbeatWhileRunning } from './activity-heartbeats';

export interface WorkerOptions {
  temporalAddress: string;
  namespace: string;
  databaseUrl: string;
  /** A pre-built bundle saves the few seconds webpack takes; tests share one. */
  workflowBundle?: WorkflowBundleOption;
  /** @default TASK_QUEUE */
  taskQueue?: string;
  /** Activities at once on this worker; table extraction is I/O bound. @default 8 */
  maxConcurrentActivities?: number;
  /** Passed to the activities: the master key and the client-side Klaviyo rate budget. */
  activities?: Omit<ActivityDependencies, 'pool' | 'temporal'>;
}

export interface RunningWorker {
  worker: Worker;
  /** Resolves when the worker has shut down and its connections are closed. */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/** Starts a worker polling the dataflow task queue; its activities share one Postgres pool. */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  await migrateToLatest(options.databaseUrl);
  const nativeConnection = await NativeConnection.connect({ address: options.temporalAddress });
  const clientConnection = await Connection.connect({ address: options.temporalAddress });
  const pool = new Pool({ connectionString: options.databaseUrl, max: 12 });
  // An idle connection killed by Postgres must not crash the worker: the next query reconnects.
  pool.on('error', (err) => console.warn(`worker: idle Postgres connection lost (${err.message})`));
  const temporal = new Client({ connection: clientConnection, namespace: options.namespace });
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: options.namespace,
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: require.resolve('../workflows') }),
    activities: createActivities({ pool, temporal, ...options.activities }),
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? 8,
    interceptors: { activity: [heartbeatWhileRunning] },
    // Heartbeats reach Temporal within a second (not 80% of the timeout), so a 5 s heartbeat timeout has margin.
    maxHeartbeatThrottleInterval: '1s',
    // A killed worker's sticky queue is given up on quickly; another worker replays the workflow from history.
    stickyQueueScheduleToStartTimeout: '3s',
  });
  const done = (async () => {
    try {
      await worker.run();
    } finally {
      await pool.end();
      await clientConnection.close();
      await nativeConnection.close();
    }
  })();
  return {
    worker,
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
