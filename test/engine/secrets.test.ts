import crypto from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { updateDataflow } from '../../control-plane/dataflows';
import { SecretBox } from '../../control-plane/secret-box';
import { readConfig } from '../../shared/config';
import { operationWorkflowId } from '../../shared/operations';
import { startTestEngine, type TestEngine } from '../support/engine';
import { runCli, type CliOutcome } from './cli-process';
import { findLeaks, readableTexts, secretForms } from './secret-scan';
import { spawnWorkerProcess, type WorkerProcess } from './worker-process';

/**
 * The API key appears nowhere: not in any run's Temporal history (inputs, results, heartbeats,
 * failures), not in the worker's logs, not in CLI output. Runs that succeed, fail (revoked key,
 * missing scope, a persistent Klaviyo 5xx: needs attention, then discarded) and are cancelled are driven
 * through the real CLI against a worker process, then everything they left behind is scanned for every key used.
 */
let engine: TestEngine;
let worker: WorkerProcess;
const cliOutput: CliOutcome[] = [];
const pendingActivities: unknown[] = [];
let sampling = true;
let sampler: Promise<void> = Promise.resolve();
let flakyRun: Promise<CliOutcome>;

/** Every key the cases use; each must stay out of everything scanned. */
let keys: Record<'full' | 'revoked' | 'readOnly' | 'noProfiles' | 'flaky' | 'bogus', string>;
/** Klaviyo answers 503 to every second page of profiles, so only the Flaky dataflow's extraction fails. */
const flakyProfiles = { table: 'profiles', page: 2, status: 503 } as const;
const DATAFLOWS = ['SecretsDemo', 'Revoked', 'Scoped', 'Flaky', 'Slowpoke'];

async function cli(args: string[], options: { apiKey?: string; stdin?: string } = {}): Promise<CliOutcome> {
  const outcome = await runCli(engine.env, args, options);
  cliOutput.push(outcome);
  return outcome;
}

function maskedForm(key: string): string {
  return `pk_…${key.slice(-4)}`;
}

/** Pending activities of every dataflow's running operation, sampled while the runs go on. */
async function samplePendingActivities(): Promise<void> {
  const client = await engine.temporal.client();
  while (sampling) {
    for (const name of DATAFLOWS) {
      try {
        const description = await client.workflow.getHandle(operationWorkflowId(name)).describe();
        if (description.status.name === 'RUNNING') pendingActivities.push(...(description.raw.pendingActivities ?? []));
      } catch {
        // not started yet
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function statusOf(name: string): Promise<string> {
  const client = await engine.temporal.client();
  return (await client.workflow.getHandle(operationWorkflowId(name)).describe()).status.name;
}

async function waitForStatus(name: string, done: (status: string) => boolean, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await statusOf(name).catch(() => 'NOT_FOUND');
    if (done(status) || Date.now() > deadline) return status;
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  engine = await startTestEngine({
    worker: false,
    sandbox: { sizes: { profiles: 300, events: 3000, lists: 3, segments: 2, tags: 3 } },
  });
  keys = {
    full: engine.sandbox.keys.full,
    revoked: engine.sandbox.createKey('full'),
    readOnly: engine.sandbox.keys.readOnly,
    noProfiles: engine.sandbox.keys.noProfiles,
    flaky: engine.sandbox.createKey('read-only'),
    bogus: `pk_${crypto.randomBytes(34).toString('base64url').replace(/[-_]/g, 'x').slice(0, 34)}`,
  };
  engine.sandbox.setFaults({ rules: [flakyProfiles] });
  worker = spawnWorkerProcess(engine.env);
  await worker.ready;
  sampler = samplePendingActivities();
  // The persistent 5xx takes a minute of retries: it runs while the other cases do.
  const created = await cli(
    ['create', 'Flaky', '--api-key-stdin', '--base-url', engine.sandbox.baseUrl, '--tables', 'profiles'],
    { stdin: `${keys.flaky}\n` },
  );
  if (created.code !== 0) throw new Error(`create Flaky failed: ${created.stderr}`);
  flakyRun = cli(['run', 'Flaky', '--wait']);
}, 120_000);

afterAll(async () => {
  sampling = false;
  await sampler;
  await worker?.kill('SIGTERM');
  await engine?.stop();
});

test('the scan finds a key hidden in a Temporal payload', () => {
  const payload = defaultPayloadConverter.toPayload({ heartbeat: { nextUrl: `https://x/?k=${keys.full.slice(3)}` } });
  const history = { events: [{ details: { payloads: [payload] } }] };
  expect(JSON.stringify(history)).not.toContain(keys.full.slice(3));
  expect(findLeaks({ history: readableTexts(history) }, secretForms(keys.full))).not.toEqual([]);
});

test('a dataflow created and run through the CLI lists its key masked as pk_…<last four>', async () => {
  const base = ['--base-url', engine.sandbox.baseUrl];
  const created = await cli(['create', 'SecretsDemo', ...base, '--tables', 'events,lists,tags', '--json'], {
    apiKey: keys.full,
  });
  expect(created.code).toBe(0);
  const run = await cli(['run', 'SecretsDemo', '--wait']);
  expect(run.stdout).toContain('Committed version 1 of SecretsDemo');
  const listed = await cli(['list', '--json']);
  const row = (JSON.parse(listed.stdout) as { name: string; apiKey: string }[]).find((d) => d.name === 'SecretsDemo');
  expect(row?.apiKey).toBe(maskedForm(keys.full));
  for (const args of [['list'], ['tables', 'SecretsDemo'], ['entities', 'SecretsDemo'], ['history', 'SecretsDemo']]) {
    expect((await cli(args)).code).toBe(0);
  }
}, 120_000);

test('a key Klaviyo rejects stops create with a message that shows it masked', async () => {
  const created = await cli(['create', 'Bogus', '--api-key-stdin', '--base-url', engine.sandbox.baseUrl], {
    stdin: keys.bogus,
  });
  expect(created.code).not.toBe(0);
  expect(created.stderr).toContain(`Klaviyo rejected the API key ${maskedForm(keys.bogus)}`);
});

test('a run whose key was revoked fails, saying Klaviyo rejected the key', async () => {
  const created = await cli(
    ['create', 'Revoked', '--api-key-stdin', '--base-url', engine.sandbox.baseUrl, '--tables', 'lists'],
    { stdin: `${keys.revoked}\n` },
  );
  expect(created.code).toBe(0);
  engine.sandbox.revokeKey(keys.revoked);
  const run = await cli(['run', 'Revoked', '--wait']);
  expect(run.code).not.toBe(0);
  expect(run.stderr).toContain('Klaviyo rejected the API key');
  expect((await cli(['history', 'Revoked', '--json'])).stdout).toContain('FAILED');
}, 60_000);

test('a run with a key that lacks a selected table’s scope fails, naming the table', async () => {
  const base = ['--base-url', engine.sandbox.baseUrl];
  expect((await cli(['create', 'Scoped', ...base, '--tables', 'profiles,lists'], { apiKey: keys.readOnly })).code).toBe(
    0,
  );
  // `edit` now refuses a key that cannot read a selected table; a dataflow saved before that rule (or edited in the
  // control plane directly) can still hold one, and the run must then stop before extracting, naming the table.
  const edited = await cli(['edit', 'Scoped', '--api-key-stdin'], { stdin: `${keys.noProfiles}\n` });
  expect(edited.code).toBe(2);
  expect(edited.stderr).toContain('cannot read the table "profiles"');
  await updateDataflow(engine.api.pool, await SecretBox.fromConfig(readConfig(engine.env)), 'Scoped', {
    apiKey: keys.noProfiles,
  });
  const run = await cli(['run', 'Scoped', '--wait']);
  expect(run.code).not.toBe(0);
  expect(run.stderr).toContain('"profiles" needs profiles:read');
}, 60_000);

test('a cancelled run ends cancelled', async () => {
  // Three slow pages of events leave time to cancel while the table is being extracted.
  engine.sandbox.setFaults({ rules: [flakyProfiles, { table: 'events', kind: 'slow', delayMs: 3000 }] });
  const base = ['--base-url', engine.sandbox.baseUrl];
  expect((await cli(['create', 'Slowpoke', ...base, '--tables', 'events'], { apiKey: keys.full })).code).toBe(0);
  expect((await cli(['run', 'Slowpoke'])).code).toBe(0);
  const handle = engine.api.temporal.workflow.getHandle(operationWorkflowId('Slowpoke'));
  const deadline = Date.now() + 30_000;
  while ((await engine.api.progress(handle)).tables.every((t) => t.state !== 'running')) {
    if (Date.now() > deadline) throw new Error('The extraction never started');
    await new Promise((r) => setTimeout(r, 200));
  }
  expect((await cli(['cancel', 'Slowpoke'])).code).toBe(0);
  expect(await waitForStatus('Slowpoke', (s) => s !== 'RUNNING')).toBe('CANCELLED');
  expect((await cli(['history', 'Slowpoke'])).code).toBe(0);
}, 90_000);

test('a run that Klaviyo keeps answering with 503 needs attention after its retries, and fails once discarded', async () => {
  const run = await flakyRun;
  expect(run.code).toBe(3);
  expect(run.stderr).toContain('The run of Flaky needs attention: "profiles": Klaviyo answered HTTP 503');
  const discarded = await cli(['discard', 'Flaky']);
  expect(discarded.code).toBe(0);
  expect(discarded.stdout).toContain('Klaviyo answered HTTP 503');
  const history = await cli(['history', 'Flaky', '--json']);
  expect(history.code).toBe(0);
  expect((JSON.parse(history.stdout) as { status: string; error: string }[])[0]).toMatchObject({
    status: 'FAILED',
    error: expect.stringContaining('Klaviyo answered HTTP 503'),
  });
}, 180_000);

describe('after those runs, no key used appears', () => {
  const allSecrets = () => Object.values(keys).flatMap(secretForms);

  beforeAll(async () => {
    sampling = false;
    await sampler;
  });

  test('in any workflow history of the namespace, payloads decoded', async () => {
    const client = await engine.temporal.client();
    const executions: { workflowId: string; runId: string }[] = [];
    // Visibility is eventually consistent: wait until every dataflow's operations are listed.
    const deadline = Date.now() + 20_000;
    do {
      executions.length = 0;
      for await (const execution of client.workflow.list()) executions.push(execution);
    } while (
      DATAFLOWS.some((d) => !executions.some((e) => e.workflowId === operationWorkflowId(d))) &&
      Date.now() < deadline
    );
    expect(new Set(executions.map((e) => e.workflowId))).toEqual(new Set(DATAFLOWS.map(operationWorkflowId)));

    const texts: string[] = [];
    for (const execution of executions) {
      const handle = client.workflow.getHandle(execution.workflowId, execution.runId);
      const history = await handle.fetchHistory();
      const description = await handle.describe();
      texts.push(...readableTexts(history), ...readableTexts(JSON.parse(JSON.stringify(history))));
      texts.push(...readableTexts(description.raw));
    }
    // The decoding reached the payloads: inputs, and the failure that shows the revoked key masked.
    expect(texts.some((t) => t.includes('"dataflow":"SecretsDemo"'))).toBe(true);
    expect(texts.some((t) => t.includes(`Klaviyo rejected the API key ${maskedForm(keys.revoked)}`))).toBe(true);
    expect(findLeaks({ histories: texts }, allSecrets())).toEqual([]);
  }, 60_000);

  test('in the heartbeat details or last failures of pending activities', () => {
    const texts = readableTexts(pendingActivities);
    expect(texts.some((t) => t.includes('"table":"events"'))).toBe(true);
    expect(texts.some((t) => t.includes('Klaviyo answered HTTP 503'))).toBe(true);
    expect(findLeaks({ pendingActivities: texts }, allSecrets())).toEqual([]);
  });

  test('in the worker’s logs', () => {
    const output = worker.output();
    // The worker logs every activity failure: the revoked key's shows it masked.
    expect(output).toContain(`Klaviyo rejected the API key ${maskedForm(keys.revoked)}`);
    expect(findLeaks({ worker: [output] }, allSecrets())).toEqual([]);
  });

  test('in CLI output', () => {
    const texts = cliOutput.flatMap((o) => [o.stdout, o.stderr]);
    expect(texts.some((t) => t.includes(maskedForm(keys.full)))).toBe(true);
    expect(findLeaks({ cli: texts }, allSecrets())).toEqual([]);
  });

  test('in the sandbox request log', () => {
    const log = engine.sandbox.requestLog();
    expect(log.length).toBeGreaterThan(0);
    expect(findLeaks({ requestLog: readableTexts(log) }, allSecrets())).toEqual([]);
  });
});
