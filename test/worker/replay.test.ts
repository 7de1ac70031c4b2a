import fs from 'node:fs';
import path from 'node:path';
import {
  bundleWorkflowCode,
  Worker,
  type ReplayResult,
  type WorkflowBundleOption,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { workflowBundle } from '../support/engine';
import { readHistory } from '../histories/history-files';

/**
 * Deploy safety: the recorded histories of every kind of workflow (test/histories/, `npm run record:histories`) are
 * replayed by the worker's replayer against the workflow code in the checkout. A change that would make a run in
 * flight non-deterministic when the new worker picks it up fails here, before it is deployed. To be sure the check
 * can fail, the same histories are replayed against the workflows with one command moved (a timer first), and every
 * one must be refused.
 */

const HISTORIES = path.resolve(__dirname, '..', 'histories');
const ROOT = path.resolve(__dirname, '..', '..');

interface Recorded {
  file: string;
  workflowId: string;
  workflowType: string;
  history: ReturnType<typeof readHistory>;
}

function recorded(): Recorded[] {
  return fs
    .readdirSync(HISTORIES)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => {
      const history = readHistory(path.join(HISTORIES, file));
      const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
      return {
        file,
        workflowId: `replay-${file.replace(/\.json$/, '')}`,
        workflowType: started?.workflowType?.name ?? '',
        history,
      };
    });
}

async function replay(bundle: WorkflowBundleOption, histories: Recorded[]): Promise<Map<string, ReplayResult>> {
  const results = new Map<string, ReplayResult>();
  const byId = new Map(histories.map((h) => [h.workflowId, h.file]));
  for await (const result of Worker.runReplayHistories(
    { workflowBundle: bundle },
    histories.map((h) => ({ workflowId: h.workflowId, history: h.history })),
  )) {
    results.set(byId.get(result.workflowId) ?? result.workflowId, result);
  }
  return results;
}

/** The checkout's workflows, each started behind a one-second timer: the first command of every history moves. */
async function reorderedBundle(types: string[]): Promise<WorkflowBundleWithSourceMap> {
  const dir = path.join(ROOT, 'node_modules', '.cache', 'dataflows-replay');
  fs.mkdirSync(dir, { recursive: true });
  // JavaScript: the bundler compiles TypeScript outside node_modules only, and this file lives in its cache.
  const file = path.join(dir, `reordered-${process.pid}.js`);
  const workflows = path.relative(dir, path.join(ROOT, 'workflows')).split(path.sep).join('/');
  fs.writeFileSync(
    file,
    [
      "import { sleep } from '@temporalio/workflow';",
      `import * as real from '${workflows}';`,
      `export * from '${workflows}';`,
      ...types.map(
        (type) => `export async function ${type}(...args) { await sleep(1000); return real.${type}(...args); }`,
      ),
    ].join('\n'),
  );
  try {
    const noop = () => undefined;
    return await bundleWorkflowCode({
      workflowsPath: file,
      logger: { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop },
    });
  } finally {
    fs.rmSync(file, { force: true });
  }
}

const histories = recorded();

test('histories of every kind of workflow are recorded', () => {
  const files = histories.map((h) => h.file);
  expect(files).toEqual(
    expect.arrayContaining([
      'remove.json',
      'rollback.json',
      'run-failed-discarded.json',
      'run-incremental.json',
      'run-needs-attention-retried.json',
      'run-reset.json',
      'run-scheduled.json',
    ]),
  );
  expect(new Set(histories.map((h) => h.workflowType))).toEqual(
    new Set(['runDataflow', 'rollbackDataflow', 'removeDataflow']),
  );
});

test('every recorded history replays without a determinism error on the workflows in the checkout', async () => {
  const results = await replay(await workflowBundle(), histories);
  const failures = [...results].filter(([, r]) => r.error).map(([file, r]) => `${file}: ${String(r.error)}`);
  expect(failures).toEqual([]);
  expect(results.size).toBe(histories.length);
}, 120_000);

test('a change of command order is caught: every history fails to replay against reordered workflows', async () => {
  const bundle = await reorderedBundle([...new Set(histories.map((h) => h.workflowType))]);
  const results = await replay(bundle, histories);
  const replayed = [...results].map(([file, r]) => ({
    file,
    nondeterministic: r.error?.name === 'DeterminismViolationError',
  }));
  expect(replayed).toEqual(histories.map((h) => ({ file: h.file, nondeterministic: true })));
}, 120_000);
