import fs from 'node:fs';
import { temporal } from '@temporalio/proto';
import type { StartedOperation } from '../../client/dataflow-api';
import type { RunResult } from '../../shared/operations';
import type { RequestLogEntry, SandboxSizes } from '../../sandbox/server';
import { spawnWorkerProcess, type WorkerProcess } from '../engine/worker-process';
import { startTestEngine, type TestEngine } from './engine';

/**
 * Several worker processes (one task queue, one Postgres control plane) and several dataflows on one sandbox account
 * whose rate limits are on: the set-up of the scale-out tests. The dataflows are created while the sandbox's limits
 * are off (the API's key check must not spend the run's windows); the limits are turned on, which opens fresh
 * windows, and the request log emptied just before the runs start.
 */
export interface ScaleOutDataflow {
  name: string;
  tables: string[];
  excludeFields?: string[];
}

export interface ScaleOutOptions {
  workers: number;
  /** Multiplies Klaviyo's limits, in the sandbox and in the workers' budget alike. */
  scale: number;
  sizes: Partial<SandboxSizes>;
  dataflows: ScaleOutDataflow[];
  /** Extra environment for worker `i` (e.g. a metrics address). */
  workerEnv?: (index: number) => NodeJS.ProcessEnv;
}

export interface ScaleOut {
  engine: TestEngine;
  workers: WorkerProcess[];
  /** Starts every dataflow's run at once. */
  runAll(): Promise<StartedOperation[]>;
  /** Waits for every run's result; a failed run rejects. */
  waitAll(runs: StartedOperation[]): Promise<RunResult[]>;
  /**
   * The worker process that holds the most extractions right now (by the pending activities' worker identity, which
   * names the pid of the worker's node process) and how many it holds; undefined when none is held.
   */
  busiestWorker(runs: StartedOperation[]): Promise<{ worker: WorkerProcess; extractions: number } | undefined>;
  /** The request log so far, and then the sandbox's limits off so checks may read it freely. */
  finishRequests(): RequestLogEntry[];
  stop(): Promise<void>;
}

export async function startScaleOut(options: ScaleOutOptions): Promise<ScaleOut> {
  const engine = await startTestEngine({
    worker: false,
    sandbox: { sizes: options.sizes, rateLimits: { enabled: true, scale: options.scale } },
  });
  const workers: WorkerProcess[] = [];
  const scaleOut: ScaleOut = {
    engine,
    workers,
    runAll: () => Promise.all(options.dataflows.map((d) => engine.api.run(d.name))),
    waitAll: (runs) => Promise.all(runs.map((run) => engine.api.waitForRun(run))),
    async busiestWorker(runs) {
      const client = await engine.temporal.client();
      const held = new Map<string, number>();
      for (const run of runs) {
        const description = await client.workflow.getHandle(run.workflowId).describe();
        for (const activity of description.raw.pendingActivities ?? []) {
          const identity = activity.lastWorkerIdentity;
          if (activity.activityType?.name !== 'extractTable' || !identity) continue;
          if (activity.state !== temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED) continue;
          held.set(identity, (held.get(identity) ?? 0) + 1);
        }
      }
      let best: { worker: WorkerProcess; extractions: number } | undefined;
      for (const [identity, extractions] of held) {
        const pid = Number(identity.split('@')[0]);
        const worker = workers.find((w) => w.pid === pid || w.pid === processGroup(pid));
        if (worker && extractions > (best?.extractions ?? 0)) best = { worker, extractions };
      }
      return best;
    },
    finishRequests() {
      const log = engine.sandbox.requestLog();
      engine.sandbox.setRateLimits({ enabled: false });
      return log;
    },
    async stop() {
      await Promise.all(workers.map((w) => w.kill('SIGKILL')));
      await engine.stop();
    },
  };
  const processLimits = process.env.KLAVIYO_RATE_LIMITS;
  try {
    engine.sandbox.setRateLimits({ enabled: false });
    // The API's key check reads every table once, in this process, under this process's budget: off, as the sandbox's.
    process.env.KLAVIYO_RATE_LIMITS = 'off';
    for (const dataflow of options.dataflows) {
      await engine.api.create({
        name: dataflow.name,
        apiKey: engine.sandbox.keys.full,
        baseUrl: engine.sandbox.baseUrl,
        tables: dataflow.tables,
        excludeFields: dataflow.excludeFields,
      });
    }
    process.env.KLAVIYO_RATE_LIMITS = processLimits;
    for (let i = 0; i < options.workers; i++) {
      workers.push(spawnWorkerProcess({ ...engine.env, ...options.workerEnv?.(i) }));
    }
    await Promise.all(workers.map((w) => w.ready));
    engine.sandbox.setRateLimits({ enabled: true, scale: options.scale });
    engine.sandbox.resetRequestLog();
    return scaleOut;
  } catch (err) {
    await scaleOut.stop();
    throw err;
  }
}

/** The process group of `pid` (Linux: the fifth field of /proc/<pid>/stat), or undefined when it has gone. */
function processGroup(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (second field) may hold spaces; the fields after its closing parenthesis do not.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[2]);
  } catch {
    return undefined;
  }
}
