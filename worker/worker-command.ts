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
 * require hook keeps its transforms and source maps (15–35 MB). `nodeOptions` go before the script, e.g. `--cpu-prof`,
 * after {@link WORKER_NODE_OPTIONS}.
 *
 * glibc's allocator is told to keep at most two arenas and to map large blocks (page bodies, COPY
 * text) straight from the system, so they go back to it when freed: without this, per-thread arenas
 * and freed megabyte buffers kept the worker's RSS some 40 MB above what it uses. Other C libraries ignore both.
 */
export const WORKER_MALLOC_ENV: Record<string, string> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
};

/**
 * V8's young generation capped at semi-spaces of 4 MB: the worker allocates fast (every page parsed, encoded and
 * dropped), so its semi-spaces grow to their default cap of 16 MB each and hold that memory, while what survives a
 * page's handling is little. At 1,000,000 events limits off (`npm run bench -- --events 1000000 --skip-limits
 * --skip-scale-out --skip-copy-path --skip-latency`), the peak RSS was 283–305 MB in four runs (start-up 146–148 MB)
 * against 291–320 MB in seven without it (start-up 159–167 MB), at the same rates (events 35,700–44,700 rows/s
 * against 34,800–41,000), and the sliced reads at latency read as fast.
 */
export const WORKER_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=4'];

/** The command of a built worker; a MissingBuildError ("run `npm run build`") when there is no build. */
export function workerCommand(root: string, nodeOptions: string[] = []): WorkerCommand {
  return {
    command: process.execPath,
    args: [...WORKER_NODE_OPTIONS, ...nodeOptions, requireBuilt(builtFiles(root).worker, 'The worker')],
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
