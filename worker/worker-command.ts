import { spawn } from 'node:child_process';
import path from 'node:path';
import { builtFiles, requireBuilt } from './build-output';

/** A process to start: the program, its arguments, and variables to add to its environment. */
export interface WorkerCommand {
  command: string;
  args: string[];
  env: Record<string, string>;
}

/**
 * How the worker process is started everywhere (the local stack, the bench, the tests; `npm run worker`
 * and the Dockerfile spell out the same): `node dist/worker.js`, the worker compiled to one JavaScript
 * file by `npm run build` (worker/build.ts). One process, so its signals and its memory are the worker's own;
 * `tsx worker/main.ts` would add a launcher process and tsx's ESM loader thread (~30 MB), and tsx as a
 * require hook keeps its transforms and source maps (15–35 MB). `nodeOptions` go before the script, e.g. `--cpu-prof`.
 *
 * glibc's allocator is told to keep at most two arenas and to map large blocks (page bodies, COPY
 * text) straight from the system, so they go back to it when freed: without this, per-thread arenas
 * and freed megabyte buffers kept the worker's RSS some 40 MB above what it uses. Other C libraries ignore both.
 */
export const WORKER_MALLOC_ENV: Record<string, string> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
};

/** The command of a built worker; a MissingBuildError ("run `npm run build`") when there is no build. */
export function workerCommand(root: string, nodeOptions: string[] = []): WorkerCommand {
  return {
    command: process.execPath,
    args: [...nodeOptions, requireBuilt(builtFiles(root).worker, 'The worker')],
    env: { ...WORKER_MALLOC_ENV },
  };
}

/**
 * Runs `npm run build` (worker/build.ts) for the project at `root`, in a child process so that webpack's memory goes
 * with it: what the stack, the bench and the tests do before they start worker processes. Rejects with the build's
 * output when it fails. `outDir` @default <root>/dist
 */
export function buildWorker(root: string, outDir?: string): Promise<void> {
  const script = path.join(root, 'worker', 'build.ts');
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', script, ...(outDir ? [outDir] : [])], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else {
        const how = signal ? `on ${signal}` : `with code ${code}`;
        reject(new Error(`npm run build failed (exited ${how}):\n${Buffer.concat(output).toString('utf8').trim()}`));
      }
    });
  });
}
