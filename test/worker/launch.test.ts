import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Plain JavaScript by design (see its header), so it is required, not imported.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { compiledWorker, sourceHash } = require('../../worker/launch.js') as {
  compiledWorker: (root: string, cacheDir?: string) => string;
  sourceHash: (root: string) => string;
};

const ROOT = path.resolve(__dirname, '..', '..');
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'launch-test-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A project of three files: a worker that imports a module and a JSON file, and prints what they say. */
function writeProject(root: string, greeting: string): void {
  fs.mkdirSync(path.join(root, 'worker'), { recursive: true });
  fs.mkdirSync(path.join(root, 'shared'), { recursive: true });
  fs.writeFileSync(path.join(root, 'package.json'), '{}');
  fs.writeFileSync(path.join(root, 'tsconfig.json'), '{ "compilerOptions": { "resolveJsonModule": true } }');
  fs.writeFileSync(path.join(root, 'shared', 'data.json'), JSON.stringify({ who: 'world' }));
  fs.writeFileSync(
    path.join(root, 'shared', 'greet.ts'),
    `export const greet = (who: string): string => \`${greeting}, \${who}\`;`,
  );
  fs.writeFileSync(
    path.join(root, 'worker', 'main.ts'),
    "import data from '../shared/data.json';\nimport { greet } from '../shared/greet';\nconsole.log(greet(data.who));",
  );
}

test('compiles the worker once into one file named after its sources, and again when a source changes', () => {
  const project = path.join(dir, 'project');
  const cache = path.join(dir, 'cache');
  writeProject(project, 'Hello');
  const first = compiledWorker(project, cache);
  expect(path.basename(first)).toBe(`${sourceHash(project)}.js`);
  expect(execFileSync(process.execPath, [first], { encoding: 'utf8' })).toBe('Hello, world\n');
  const builtAt = fs.statSync(first).mtimeMs;
  expect(compiledWorker(project, cache)).toBe(first);
  expect(fs.statSync(first).mtimeMs).toBe(builtAt);

  writeProject(project, 'Goodbye');
  const second = compiledWorker(project, cache);
  expect(second).not.toBe(first);
  expect(execFileSync(process.execPath, [second], { encoding: 'utf8' })).toBe('Goodbye, world\n');
  // Nothing half-written is left behind.
  expect(fs.readdirSync(cache).sort()).toEqual([path.basename(first), path.basename(second)].sort());
});

test("the project's worker compiles into one file that requires only packages", () => {
  const file = compiledWorker(ROOT, path.join(dir, 'cache'));
  const code = fs.readFileSync(file, 'utf8');
  const required = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
  expect(required.length).toBeGreaterThan(5);
  // Every module of the project is inside the file: nothing is required by a relative path.
  expect(required.filter((name) => name.startsWith('.') || name.startsWith('/'))).toEqual([]);
  expect(required).toContain('@temporalio/worker');
});
