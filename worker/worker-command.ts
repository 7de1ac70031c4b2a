import path from 'node:path';

/** A process to start: the program, its arguments, and variables to add to its environment. */
export interface WorkerCommand {
  command: string;
  args: string[];
  env: Record<string, string>;
}

/**
 * How the worker process is started everywhere (the local stack, the bench, the tests; `npm run worker`
 * and the Dockerfile spell out the same): `node worker/launch.js`, which runs the worker compiled to one
 * JavaScript file (see launch.js). One process, so its signals and its memory are the worker's own;
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

export function workerCommand(root: string, nodeOptions: string[] = []): WorkerCommand {
  return {
    command: process.execPath,
    args: [...nodeOptions, path.join(root, 'worker', 'launch.js')],
    env: { ...WORKER_MALLOC_ENV },
  };
}
