import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sourceHash, workflowBundlePath } from '../../worker/workflow-bundle';
import { WORKER_MALLOC_ENV, workerCommand } from '../../worker/worker-command';

let dataDir: string;

beforeAll(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'workflow-bundle-test-'));
});

afterAll(() => {
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('builds the bundle once into the data directory, named after the sources, and reuses it', () => {
  const first = workflowBundlePath({ dataDir });
  expect(first).toBe(path.join(dataDir, 'workflow-bundles', `${sourceHash()}.js`));
  const code = fs.readFileSync(first, 'utf8');
  // A Temporal workflow bundle with its inline source map (the worker reads it for stack traces).
  expect(code).toContain('runDataflow');
  expect(code).toMatch(/\/\/# sourceMappingURL=data:application\/json;[^,]*base64,/);
  const builtAt = fs.statSync(first).mtimeMs;
  expect(workflowBundlePath({ dataDir })).toBe(first);
  expect(fs.statSync(first).mtimeMs).toBe(builtAt);
  // No half-written file is left beside it.
  expect(fs.readdirSync(path.dirname(first))).toEqual([path.basename(first)]);
}, 120_000);

test('a bundle given explicitly is used as it is, and a missing one is named with the fix', () => {
  const given = path.join(dataDir, 'given.js');
  fs.writeFileSync(given, '// a bundle');
  expect(workflowBundlePath({ explicit: given, dataDir })).toBe(given);
  expect(() => workflowBundlePath({ explicit: path.join(dataDir, 'missing.js'), dataDir })).toThrow(
    /DATAFLOW_WORKFLOW_BUNDLE names .*missing\.js, which does not exist.*npm run build:workflows/,
  );
});

test('the source hash is stable and covers the workflow code', () => {
  expect(sourceHash()).toMatch(/^[0-9a-f]{16}$/);
  expect(sourceHash()).toBe(sourceHash());
});

test('the worker runs as one node process with the allocator settings', () => {
  const command = workerCommand('/project', ['--cpu-prof']);
  expect(command.command).toBe(process.execPath);
  expect(command.args).toEqual(['--cpu-prof', '/project/worker/launch.js']);
  expect(command.env).toEqual(WORKER_MALLOC_ENV);
});
