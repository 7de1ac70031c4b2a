import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CATALOG } from '../../klaviyo/catalog';
import { DEMO_DATAFLOW, DEMO_SANDBOX_SEED } from '../../client/demo';
import { startSandbox } from '../../sandbox/server';
import { isProcessAlive } from '../../stack/managed-process';
import { stackFilePath } from '../../stack/stack-file';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * `npm run demo` as a user runs it, but not on a terminal, so it stops the stack it started and exits: twice on one
 * data directory and one database, as someone trying it again would.
 */

const root = path.resolve(__dirname, '..', '..');
const sizes = { profiles: 40, events: 300 };
const SCHEMA = DEMO_DATAFLOW.toLowerCase();

interface DemoRun {
  code: number | null;
  output: string;
}

let dataDir: string;
let database: TestDatabase;
let first: DemoRun;
let second: DemoRun;
const expectedRows = new Map<string, number>();

function runDemo(): Promise<DemoRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATAFLOW_DATA_DIR: dataDir, DATABASE_URL: database.url };
  // Whatever else this shell points at must not leak into the demo's stack.
  for (const key of [
    'TEMPORAL_ADDRESS',
    'TEMPORAL_NAMESPACE',
    'TEMPORAL_UI_URL',
    'DATAFLOW_MASTER_KEY',
    'KLAVIYO_RATE_LIMITS',
  ]) {
    delete env[key];
  }
  const args = ['client/demo.ts', '--profiles', String(sizes.profiles), '--events', String(sizes.events)];
  const child = spawn(path.join(root, 'node_modules', '.bin', 'tsx'), args, { cwd: root, env });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

/** The lines printed under a `$ dataflow <command>` heading, up to the next blank line. */
function section(output: string, heading: string): string[] {
  const lines = output.split('\n');
  const start = lines.indexOf(`$ dataflow ${heading}`);
  if (start < 0) throw new Error(`No "$ dataflow ${heading}" in the demo's output:\n${output}`);
  const end = lines.indexOf('', start);
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** `klaviyodemo.profiles  40  1` rows of the entities table, as table → { rows, version }. */
function entities(output: string): Map<string, { rows: number; version: number }> {
  const parsed = new Map<string, { rows: number; version: number }>();
  for (const line of section(output, `entities ${DEMO_DATAFLOW}`).slice(2)) {
    const [view, rows, version] = line.split(/\s+/);
    parsed.set(view.replace(`${SCHEMA}.`, ''), { rows: Number(rows), version: Number(version) });
  }
  return parsed;
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dataflows-demo-'));
  // As root, an embedded Postgres (were DATABASE_URL unusable) would run as `postgres`, who must enter the directory.
  fs.chmodSync(dataDir, 0o755);
  const sandbox = await startSandbox({ seed: DEMO_SANDBOX_SEED, sizes, rateLimits: { enabled: false } });
  try {
    for (const table of CATALOG) expectedRows.set(table.name, sandbox.expectedCount(table.name));
  } finally {
    await sandbox.close();
  }
  database = await createTestDatabase({ prefix: 'demo' });
  first = await runDemo();
  second = await runDemo();
}, 240_000);

afterAll(async () => {
  await database?.drop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

test('the first demo creates the dataflow on the sandbox, shows live progress and exits cleanly', () => {
  expect(first.code).toBe(0);
  expect(first.output).toContain(`Created dataflow ${DEMO_DATAFLOW} on the sandbox account (${CATALOG.length} tables`);
  expect(first.output).toMatch(/^\[extracting v1\] .*profiles:/m);
  expect(first.output).toContain(`Committed version 1 of ${DEMO_DATAFLOW}.`);
});

test('the demo shows every entity with exactly the sandbox row count, at version 1', () => {
  const shown = entities(first.output);
  expect([...shown.keys()].sort()).toEqual([...expectedRows.keys()].sort());
  for (const [table, rows] of expectedRows) {
    expect({ table, ...shown.get(table) }).toEqual({ table, rows, version: 1 });
  }
  expect(shown.get('events')?.rows).toBe(sizes.events);
});

test('the demo lists the dataflow as succeeded with every table selected', () => {
  const [header, , row] = section(first.output, 'list');
  expect(header).toMatch(/^Name\s+Type\s+Status\s+Tables Count/);
  expect(row.split(/\s{2,}/).slice(0, 4)).toEqual([DEMO_DATAFLOW, 'Klaviyo', 'Succeeded', String(CATALOG.length)]);
});

test('the demo shows the completed run in the history and where to see it in the Web UI', () => {
  const [header, , run] = section(first.output, `history ${DEMO_DATAFLOW}`);
  expect(header).toMatch(/^Operation\s+Trigger\s+Status\s+Version/);
  expect(run).toMatch(/^run\s+manual\s+COMPLETED\s+1\s/);
  expect(first.output).toMatch(
    /this run\s+http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/dataflow-klaviyodemo\//,
  );
  expect(first.output).toContain(`npm run dataflow -- entities ${DEMO_DATAFLOW}`);
});

test('a second demo reuses the dataflow, commits version 2 and keeps the first run in the history', () => {
  expect(second.code).toBe(0);
  expect(second.output).toContain(`Reusing dataflow ${DEMO_DATAFLOW}`);
  expect(second.output).not.toContain('Created dataflow');
  expect(second.output).toContain(`Committed version 2 of ${DEMO_DATAFLOW}.`);
  expect(entities(second.output).get('profiles')).toEqual({ rows: sizes.profiles, version: 2 });
  const runs = section(second.output, `history ${DEMO_DATAFLOW}`).slice(2, 4);
  expect(runs.map((line) => line.split(/\s+/).slice(0, 4).join(' '))).toEqual([
    'run manual COMPLETED 2',
    'run manual COMPLETED 1',
  ]);
});

test('a demo that started the stack stops it: no stack.json and no worker left behind', () => {
  expect(fs.existsSync(stackFilePath(dataDir))).toBe(false);
  const workerPids = [...`${first.output}\n${second.output}`.matchAll(/^ {2}Worker {4}pid (\d+)/gm)].map((m) =>
    Number(m[1]),
  );
  expect(workerPids).toHaveLength(2);
  expect(workerPids.filter((pid) => isProcessAlive(pid))).toEqual([]);
});
