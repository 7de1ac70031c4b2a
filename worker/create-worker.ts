import { Client, Connection } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { Pool } from 'pg';
import { createActivities, type ActivityDependencies } from '../activities/dataflow-activities';
import { migrateToLatest } from '../control-plane/migrate';
import { TASK_QUEUE } from '../shared/config';
import {
  connectionOptions,
  explainConnectionFailure,
  PLAIN_GRPC,
  type TemporalSecurity,
} from '../shared/temporal-connection';
import { heartbeatWhileRunning } from './activity-heartbeats';

export interface WorkerOptions {
  temporalAddress: string;
  namespace: string;
  databaseUrl: string;
  /** TLS and API key for Temporal. @default plain gRPC */
  temporalSecurity?: TemporalSecurity;
  /** A pre-built bundle saves the few seconds webpack takes; tests share one. */
  workflowBundle?: WorkflowBundleOption;
  /** @default TASK_QUEUE */
  taskQueue?: string;
  /** Activities at once on this worker; table extraction is I/O bound. @default 8 */
  maxConcurrentActivities?: number;
  /** Passed to the activities: the master key and the client-side Klaviyo rate budget. */
  activities?: Omit<ActivityDependencies, 'pool' | 'temporal' | 'shutdownSignal'>;
  /**
   * After `shutdown()`, how long short activities (validation, commit) may run to their end before they are cancelled
   * too; extractions hand back their table at once either way. @default '20s'
   */
  shutdownGraceTime?: string;
}

/** Why an extraction stopped: a retryable failure, so the table goes to another worker. */
const WORKER_SHUTDOWN = () =>
  ApplicationFailure.retryable(
    'The worker shut down (a deploy or a scale-down): the table resumes on another worker from its last checkpoint.',
    'WorkerShutdown',
  );

/** The worker cannot connect to Temporal; the message says what to set. */
export class TemporalConnectError extends Error {
  override readonly name = 'TemporalConnectError';
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
  const security = options.temporalSecurity ?? PLAIN_GRPC;
  const connect = { address: options.temporalAddress, ...connectionOptions(security) };
  let nativeConnection: NativeConnection;
  try {
    nativeConnection = await NativeConnection.connect(connect);
  } catch (err) {
    throw new TemporalConnectError(await explainConnectionFailure(options.temporalAddress, security, err));
  }
  const clientConnection = await Connection.connect(connect);
  const pool = new Pool({ connectionString: options.databaseUrl, max: 12 });
  // An idle connection killed by Postgres must not crash the worker: the next query reconnects.
  pool.on('error', (err) => console.warn(`worker: idle Postgres connection lost (${err.message})`));
  const temporal = new Client({ connection: clientConnection, namespace: options.namespace });
  const handBack = new AbortController();
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: options.namespace,
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: require.resolve('../workflows') }),
    activities: createActivities({ pool, temporal, ...options.activities, shutdownSignal: handBack.signal }),
    shutdownGraceTime: options.shutdownGraceTime ?? '20s',
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
      // Extractions stop at their last committed batch and fail retryably: Temporal gives the table to another worker
      // at once, which resumes from the checkpoint, instead of after a heartbeat timeout.
      if (!handBack.signal.aborted) handBack.abort(WORKER_SHUTDOWN());
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
