import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Client } from '@temporalio/client';
import { Runtime } from '@temporalio/worker';
import { readableTexts } from '../engine/secret-scan';
import { runCli } from '../engine/cli-process';
import { startTestConsole } from './console';
import { workerLogLines, type TestEngine } from './engine';

/**
 * The one key scan of the resilience suite. It reads everything a run leaves behind: decoded workflow histories
 * and descriptions, schedules, the Temporal server's log and database file, the in-process workers' info logs,
 * every table of the engine's Postgres database (control plane and warehouse), the CLI's and the console's
 * answers about every dataflow, and whatever outputs the test collected (spawned workers, CLI runs). It first
 * plants a canary key in each kind of source: a source where the canary is not found was not read, and the scan
 * fails, so an empty list of histories can never pass as "nothing leaked".
 */

export interface KeyScanOptions {
  /** Output the test collected, by source: spawned workers' output, CLI runs. */
  outputs?: Record<string, string[]>;
  /** Plant the canary (the positive control). Only a test proving the scan fails without it turns this off. */
  canary?: boolean;
}

export interface KeyScanResult {
  /** Where a key showed, masked; empty when nothing leaked. */
  leaks: string[];
  /** Sources where the planted canary was not found: each means that source went unread. */
  canaryMissing: string[];
  /** How many texts (or bytes, for files) each source gave. */
  scanned: Record<string, number>;
}

/** A random key shaped like Klaviyo's: `pk_` and 34 characters. */
export function fakeKey(): string {
  return `pk_${crypto.randomBytes(40).toString('base64url').replace(/[-_]/g, 'x').slice(0, 34)}`;
}

/**
 * Every form a key can leak in: whole, its secret part, any run of 8 or more characters of the secret (a prefix,
 * a suffix, half of a key split across two chunks), base64 (at each byte alignment) and hex of key and secret.
 */
export function keyForms(apiKey: string): string[] {
  const secret = apiKey.replace(/^pk_/, '');
  const forms = new Set<string>([apiKey, secret]);
  for (let i = 0; i + 8 <= secret.length; i++) forms.add(secret.slice(i, i + 8));
  for (const text of [apiKey, secret]) {
    for (let skip = 0; skip < 3; skip++) {
      const bytes = Buffer.from(text.slice(skip), 'latin1');
      // Characters a neighbouring byte does not change: all but the last partial group.
      const whole = Math.floor(bytes.length / 3) * 4;
      forms.add(bytes.toString('base64').slice(0, whole));
      forms.add(bytes.toString('base64url').slice(0, whole));
    }
    forms.add(Buffer.from(text, 'latin1').toString('hex'));
    forms.add(Buffer.from(text, 'latin1').toString('hex').toUpperCase());
  }
  return [...forms].filter((f) => f.length >= 8);
}

/** Lines safe to print (the form masked) for each text of each source holding any form of any key. */
export function findKeyForms(sources: Record<string, string[]>, keys: string[]): string[] {
  const forms = keys.flatMap(keyForms);
  const leaks: string[] = [];
  for (const [source, texts] of Object.entries(sources)) {
    for (const text of texts) {
      for (const form of forms) {
        const at = text.indexOf(form);
        if (at < 0) continue;
        const context = text
          .slice(Math.max(0, at - 40), at + form.length + 40)
          .split(form)
          .join('[KEY]');
        leaks.push(`${source}: …${context.replace(/[^\x20-\x7e]/g, '.')}…`);
        break;
      }
    }
  }
  return leaks;
}

async function historyTexts(client: Client): Promise<string[]> {
  const texts: string[] = [];
  for await (const execution of client.workflow.list()) {
    const handle = client.workflow.getHandle(execution.workflowId, execution.runId);
    texts.push(...readableTexts(await handle.fetchHistory()), ...readableTexts((await handle.describe()).raw));
  }
  return texts;
}

async function scheduleTexts(client: Client): Promise<string[]> {
  const texts: string[] = [];
  for await (const summary of client.schedule.list()) {
    const description = await client.schedule.getHandle(summary.scheduleId).describe();
    texts.push(...readableTexts(description.raw), ...readableTexts(description.memo ?? {}));
  }
  return texts;
}

/** A file as Latin-1 text (binary files included): a key stored as bytes shows as the same characters. */
function fileTexts(files: (string | undefined)[]): string[] {
  return files.filter((f): f is string => f !== undefined && fs.existsSync(f)).map((f) => fs.readFileSync(f, 'latin1'));
}

/** Every row of every table of the engine's database, schemas of the control plane and the warehouse alike. */
async function postgresTexts(engine: TestEngine): Promise<string[]> {
  const pool = engine.api.pool;
  const { rows: tables } = await pool.query<{ relation: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS relation FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`,
  );
  const texts: string[] = [];
  for (const { relation } of tables) {
    const { rows } = await pool.query<{ row: string }>(`SELECT t::text AS row FROM ${relation} t`);
    texts.push(`table ${relation}`, ...rows.map((r) => r.row));
  }
  return texts;
}

/** What the CLI and the console tell about every dataflow: its list, each one shown, its tables and history. */
async function clientTexts(engine: TestEngine): Promise<{ cli: string[]; console: string[] }> {
  const names = (await engine.api.list()).map((d) => d.name);
  // One process: `list --json` carries every dataflow's summary, the same one `show --json` prints.
  const cli = [await runCli(engine.env, ['list', '--json'])];
  const web = await startTestConsole(engine);
  try {
    await web.call('GET', '/api/dataflows');
    for (const name of names) {
      const at = `/api/dataflows/${encodeURIComponent(name)}`;
      for (const path of [at, `${at}/tables`, `${at}/history`, `${at}/entities`, `${at}/progress`, `${at}/schedule`]) {
        await web.call('GET', path);
      }
    }
  } finally {
    await web.close();
  }
  return { cli: cli.flatMap((o) => [o.stdout, o.stderr]), console: web.answers };
}

/** Puts the canary where each kind of source would hold a key; returns how to take it away again. */
async function plantCanary(engine: TestEngine, client: Client, canary: string): Promise<() => Promise<void>> {
  const id = `key-scan-canary-${crypto.randomBytes(4).toString('hex')}`;
  // A workflow no worker serves, started with the canary as input: its history holds it as a payload.
  const workflow = await client.workflow.start('keyScanCanary', {
    taskQueue: id,
    workflowId: id,
    args: [{ apiKey: canary }],
  });
  const schedule = await client.schedule.create({
    scheduleId: id,
    spec: { intervals: [{ every: '365 days' }] },
    action: { type: 'startWorkflow', workflowType: 'keyScanCanary', taskQueue: id, args: [] },
    memo: { apiKey: canary },
    state: { paused: true },
  });
  await engine.api.pool.query(`CREATE TABLE public.${id.replaceAll('-', '_')} (note text, raw bytea)`);
  await engine.api.pool.query(`INSERT INTO public.${id.replaceAll('-', '_')} VALUES ($1, $2)`, [
    `url=https://example.invalid/?key=${canary}`,
    Buffer.from(canary),
  ]);
  Runtime.instance().logger.info('key scan canary', { apiKey: canary });
  // The server writes its log itself; the canary line proves the file is read, not what the server says.
  fs.appendFileSync(engine.temporal.server.logFile, `key scan canary ${canary}\n`);
  return async () => {
    await workflow.terminate('key scan done').catch(() => undefined);
    await schedule.delete().catch(() => undefined);
    await engine.api.pool.query(`DROP TABLE IF EXISTS public.${id.replaceAll('-', '_')}`);
  };
}

/**
 * Scans everything the engine and the test left behind for any form of `keys`. With the canary (the default), a
 * source that does not show the canary is reported in `canaryMissing`; use {@link assertNoKeys} to fail on either.
 */
export async function scanForKeys(
  engine: TestEngine,
  keys: string[],
  options: KeyScanOptions = {},
): Promise<KeyScanResult> {
  const client = await engine.temporal.client();
  const canary = fakeKey();
  const planted = options.canary ?? true;
  const unplant = planted ? await plantCanary(engine, client, canary) : async () => undefined;
  try {
    const outputs = Object.fromEntries(
      Object.entries(options.outputs ?? {}).map(([name, texts]) => [name, planted ? [...texts, canary] : texts]),
    );
    const temporalFiles = [engine.temporal.server.dbFile, `${engine.temporal.server.dbFile}-wal`];
    const { cli, console } = await clientTexts(engine);
    const sources: Record<string, string[]> = {
      'workflow histories': await historyTexts(client),
      schedules: await scheduleTexts(client),
      'Temporal server log': fileTexts([engine.temporal.server.logFile]),
      'Temporal database file': fileTexts(engine.temporal.server.dbFile ? temporalFiles : []),
      'worker log': [...workerLogLines],
      Postgres: await postgresTexts(engine),
      CLI: cli,
      console,
      ...outputs,
    };
    const scanned = Object.fromEntries(
      Object.entries(sources).map(([name, texts]) => [name, texts.reduce((n, t) => n + t.length, 0)]),
    );
    const withCanary = new Set(findKeyForms(sources, [canary]).map((line) => line.slice(0, line.indexOf(':'))));
    // The CLI and the console only tell what they are asked; an in-memory Temporal has no database file.
    const plantedIn = Object.keys(sources).filter(
      (s) => !['CLI', 'console'].includes(s) && (s !== 'Temporal database file' || engine.temporal.server.dbFile),
    );
    // Their control instead: each must have told about every dataflow, or it was not what was read.
    const names = (await engine.api.list()).map((d) => d.name);
    const silent = ['CLI', 'console'].filter((s) => !names.every((n) => sources[s].some((t) => t.includes(n))));
    return {
      leaks: findKeyForms(sources, keys),
      canaryMissing: [...plantedIn.filter((s) => !withCanary.has(s)), ...silent],
      scanned,
    };
  } finally {
    await unplant();
  }
}

/** Fails unless the canary was found in every source and no form of any key was. */
export function assertNoKeys(result: KeyScanResult): void {
  if (result.canaryMissing.length > 0) {
    throw new Error(`The key scan did not read: ${result.canaryMissing.join(', ')} (the canary was not found there)`);
  }
  if (result.leaks.length > 0) throw new Error(`Keys leaked:\n${result.leaks.join('\n')}`);
}
