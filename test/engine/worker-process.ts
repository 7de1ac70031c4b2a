import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { workerCommand } from '../../worker/worker-command';
import { testBuild } from '../support/built';

/**
 * The worker as the product runs it (worker/worker-command.ts: dist/worker.js, which jest's global setup builds): a
 * separate process with an engine's environment. It gets a process group of its own and signals go to the whole
 * group: a SIGKILL must not leave an orphan polling.
 */
export interface WorkerProcess {
  readonly pid: number;
  /** Everything the worker wrote to stdout and stderr so far, in arrival order. */
  output(): string;
  /** Resolves once the worker says it polls its task queue; rejects if it exits first. */
  ready: Promise<void>;
  /** Resolves with the exit code (or the signal's name) when the process has gone. */
  exited: Promise<number | string>;
  /** Sends `signal` to the worker's process group and waits for it to exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

const ROOT = path.resolve(__dirname, '../..');
const READY_LINE = 'worker: polling';

export function spawnWorkerProcess(env: NodeJS.ProcessEnv): WorkerProcess {
  testBuild();
  const command = workerCommand(ROOT);
  const child: ChildProcess = spawn(command.command, command.args, {
    cwd: ROOT,
    env: { ...env, ...command.env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error('The worker process could not be started');
  const pid = child.pid;
  const chunks: string[] = [];
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  const ready = new Promise<void>((resolve, reject) => {
    let polling = false;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk.toString('utf8'));
      if (!polling && chunks.join('').includes(READY_LINE)) {
        polling = true;
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((how) => reject(new Error(`The worker exited (${how}) before polling:\n${chunks.join('')}`)));
  });
  // A test that gave up waiting must not leave an unhandled rejection behind.
  ready.catch(() => undefined);

  return {
    pid,
    output: () => chunks.join(''),
    ready,
    exited,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-pid, signal);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
        }
      }
      await exited;
      // Anything the worker started is in the same group: make sure nothing of the group outlives the test.
      await waitForGroupGone(pid);
    },
  };
}

/**
 * The worker processes one test file starts, each with the environment `env()` returns when it starts (the engine's,
 * made in `beforeAll`); `killAll` (in `afterAll`) SIGKILLs every one still running.
 */
export function workerProcesses(env: () => NodeJS.ProcessEnv): { start(): WorkerProcess; killAll(): Promise<void> } {
  const started: WorkerProcess[] = [];
  return {
    start() {
      const worker = spawnWorkerProcess(env());
      started.push(worker);
      return worker;
    },
    async killAll() {
      for (const worker of started) await worker.kill('SIGKILL');
    },
  };
}

async function waitForGroupGone(pgid: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return;
    }
    if (i === 50) process.kill(-pgid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Processes of group ${pgid} are still alive`);
}
