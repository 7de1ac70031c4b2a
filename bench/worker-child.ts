import fs from 'node:fs';
import { logTail, startProcess, waitFor, type ManagedProcess } from '../stack/managed-process';
import { projectRoot } from '../stack/project-root';
import { workerCommand } from '../worker/worker-command';

/** The worker as the product runs it (see worker/worker-command.ts), in a child process whose memory is measured. */
export interface WorkerChild {
  readonly workerPid: number;
  readonly logFile: string;
  stop(): Promise<void>;
}

const READY_LINE = 'worker: polling';

/** `cpuProfileDir`: run the worker with `--cpu-prof`, writing a CPU profile there on exit. */
export async function startWorkerChild(
  env: NodeJS.ProcessEnv,
  logFile: string,
  cpuProfileDir?: string,
): Promise<WorkerChild> {
  const root = projectRoot();
  const worker_ = workerCommand(root, cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`] : []);
  const worker: ManagedProcess = await startProcess(worker_.command, worker_.args, {
    cwd: root,
    env: { ...env, ...worker_.env },
    logFile,
  });
  const stop = async () => {
    await worker.stop({ signal: 'SIGTERM', timeoutMs: 20_000 });
  };
  try {
    const ready = await waitFor(
      () => !worker.isRunning() || fs.readFileSync(logFile, 'utf8').includes(READY_LINE),
      120_000,
      200,
    );
    if (!ready || !worker.isRunning()) {
      throw new Error(`The worker did not start polling. Last lines of ${logFile}:\n${logTail(logFile)}`);
    }
    return { workerPid: worker.pid, logFile, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
