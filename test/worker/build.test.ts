import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { builtFiles, workflowBundleFile } from '../../worker/build-output';
import { buildWorker, WORKER_MALLOC_ENV, WORKER_NODE_OPTIONS, workerCommand } from '../../worker/worker-command';
import { testBuild } from '../support/built';

const ROOT = path.resolve(__dirname, '..', '..');
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'build-test-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the build writes the worker as one file that requires only packages, and the workflow bundle', async () => {
  // Inside dist/, so that the compiled worker finds the project's node_modules as dist/worker.js does.
  const outDir = fs.mkdtempSync(path.join(ROOT, 'dist', 'build-test-'));
  try {
    await buildWorker(ROOT, outDir);
    const files = builtFiles(ROOT, outDir);
    // Nothing half-written is left beside them.
    expect(fs.readdirSync(outDir).sort()).toEqual(['worker.js', 'workflow-bundle.js']);

    const required = [...fs.readFileSync(files.worker, 'utf8').matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    expect(required.length).toBeGreaterThan(5);
    // Every module of the project is inside the file: nothing is required by a relative path.
    expect(required.filter((name) => name.startsWith('.') || name.startsWith('/'))).toEqual([]);
    expect(required).toContain('@temporalio/worker');

    // A Temporal workflow bundle with its inline source map (the worker reads it for stack traces).
    const bundle = fs.readFileSync(files.workflowBundle, 'utf8');
    expect(bundle).toContain('runDataflow');
    expect(bundle).toMatch(/\/\/# sourceMappingURL=data:application\/json;[^,]*base64,/);
  } finally {
    fs.rmSync(outDir, { recursive: true, force: true });
  }
}, 120_000);

test('the built worker runs under plain node, and names a workflow bundle it cannot find with the fix', () => {
  // dist/worker.js of jest's global setup (test/support/global-setup.ts), as the stack, the bench and Docker run it.
  testBuild();
  const command = workerCommand(ROOT);
  const missing = path.join(dir, 'missing.js');
  const run = spawnSync(command.command, command.args, {
    cwd: dir,
    env: {
      ...process.env,
      ...command.env,
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
      TEMPORAL_ADDRESS: '127.0.0.1:1',
      DATAFLOW_DATA_DIR: dir,
      DATAFLOW_WORKFLOW_BUNDLE: missing,
    },
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(run.status).toBe(1);
  expect(run.stderr.trim()).toBe(
    `worker: DATAFLOW_WORKFLOW_BUNDLE names ${missing}, which does not exist: unset it to use ` +
      'dist/workflow-bundle.js, or run `npm run build` and point it at what that writes.',
  );
});

test('without a build, starting the worker says to run npm run build', () => {
  expect(() => workerCommand(dir)).toThrow(
    `The worker ${path.join(dir, 'dist', 'worker.js')} does not exist: run \`npm run build\` first.`,
  );
  expect(() => workflowBundleFile(undefined, dir)).toThrow(
    `The workflow bundle ${path.join(dir, 'dist', 'workflow-bundle.js')} does not exist: run \`npm run build\` first.`,
  );
});

test('the worker runs as one node process with the allocator and heap settings', () => {
  const command = workerCommand(ROOT, ['--cpu-prof']);
  expect(command.command).toBe(process.execPath);
  expect(WORKER_NODE_OPTIONS).toEqual(['--max-semi-space-size=4']);
  expect(command.args).toEqual([...WORKER_NODE_OPTIONS, '--cpu-prof', path.join(ROOT, 'dist', 'worker.js')]);
  expect(command.env).toEqual(WORKER_MALLOC_ENV);
});
