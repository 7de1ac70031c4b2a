import { Command, CommanderError, Option } from 'commander';
import readline from 'node:readline/promises';
import type { Dataflow } from '../control-plane/dataflows';
import { maskApiKey } from '../secrets/api-key';
import { DELETION_SWEEPS } from '../klaviyo/deletion-sweep';
import { DataflowApi, type DataflowListRow, type StartedOperation } from './dataflow-api';
import type { RunResult } from '../shared/operations';
import { dataflowSummary } from './dataflow-summary';
import {
  eraseLines,
  groupRows,
  LIST_GROUP_KEYS,
  ProgressBoard,
  progressLine,
  renderDataflow,
  renderDataflowList,
  renderEntities,
  renderHistory,
  renderRunResult,
  renderTableFields,
  renderTables,
} from './cli-output';
import { reportOf } from './error-report';
import { formatTime } from './text-table';
import { UserInputError } from '../shared/user-input-error';

/** Every command accepts --json; human output otherwise. */
interface Output {
  json: boolean;
}

const list = (value: string) =>
  value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);

/** `--deletion-sweep`: how often a table refreshed incrementally is swept for deletions when that is not cheap. */
function deletionSweepOption(): Option {
  return new Option(
    '--deletion-sweep <when>',
    'how often tables refreshed incrementally are checked for rows deleted in Klaviyo, when that is not cheap ' +
      '(cheap ones every run); default daily',
  ).choices(DELETION_SWEEPS);
}

/** `--conversion-metric`: the metric campaign and flow reports count as conversions. */
function conversionMetricOption(): Option {
  return new Option(
    '--conversion-metric <id or name>',
    'the metric campaign and flow reports count as conversions (default: the metric named "Placed Order")',
  );
}

/** `--attribution-window`: days of attribution a refresh of the report tables re-reads. */
function attributionWindowOption(): Option {
  return new Option(
    '--attribution-window <days>',
    'days of attribution a refresh of the report tables re-reads, 1 to 90 (default 5)',
  ).argParser((value: string) => Number(value));
}

function maskedKey(dataflow: Dataflow): string {
  return maskApiKey({ hint: dataflow.apiKeyHint });
}

function print(out: Output, json: unknown, human: () => string): void {
  console.log(out.json ? JSON.stringify(json, null, 2) : human());
}

/** The key comes from stdin (`--api-key-stdin`) or KLAVIYO_API_KEY, never from argv (visible in `ps`). */
async function readApiKey(fromStdin: boolean | undefined, required: boolean): Promise<string | undefined> {
  if (fromStdin) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    // Only the line break a shell or `echo` adds is dropped; anything else is the key's own problem.
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  const fromEnv = process.env.KLAVIYO_API_KEY;
  if (fromEnv !== undefined) return fromEnv;
  if (required) {
    throw new UserInputError('No API key: pipe it in with --api-key-stdin, or set KLAVIYO_API_KEY.');
  }
  return undefined;
}

/** `--table a --table b,c` → ['a', 'b', 'c']. */
function collectList(value: string, previous: string[]): string[] {
  return [...previous, ...list(value)];
}

/**
 * Follows a run to its end with live progress: on a terminal one line per running table, redrawn in place; on a
 * pipe a line per change. A run that comes to need attention ends it with that error (`afterRound`: see waitForRun).
 */
async function followRun(
  api: DataflowApi,
  started: StartedOperation,
  opts: Output,
  afterRound?: number,
): Promise<RunResult> {
  const tty = Boolean(process.stdout.isTTY) && !opts.json;
  const board = new ProgressBoard();
  let drawn = 0;
  let lastLine = '';
  return api.waitForRun(
    started,
    (progress) => {
      if (opts.json) return;
      if (tty) {
        const lines = board.lines(progress);
        process.stdout.write(`${eraseLines(drawn)}${lines.join('\n')}\n`);
        drawn = lines.length;
        return;
      }
      const line = progressLine(progress);
      if (line !== lastLine) console.log(line);
      lastLine = line;
    },
    { afterRound },
  );
}

async function withApi<T>(fn: (api: DataflowApi) => Promise<T>): Promise<T> {
  const api = await DataflowApi.connect();
  try {
    return await fn(api);
  } finally {
    await api.close();
  }
}

export function buildProgram(): Command {
  const program = new Command('dataflow')
    .description('Klaviyo dataflows on Temporal: import Klaviyo into Postgres as versioned, atomically committed loads')
    .showHelpAfterError()
    // Usage errors leave as CommanderErrors, so main() exits 2 for them like for any input error.
    .exitOverride();
  const json = new Option('--json', 'print JSON');

  program
    .command('create <name>')
    .description('validate the key, discover the tables it can read, and save a dataflow')
    .option('--display-name <text>', 'display name (default: the name)')
    .option('--description <text>', 'description', '')
    .option('--api-key-stdin', 'read the Klaviyo private API key from stdin (else KLAVIYO_API_KEY)')
    .option('--base-url <url>', 'Klaviyo API base URL (default https://a.klaviyo.com)')
    .option('--tables <names>', 'comma-separated tables to import (default: all the key can read)', list)
    .option('--exclude-fields <table.field,...>', 'fields to leave out', list)
    .option('--fields <table.field,...>', 'exactly these fields for each table named', list)
    .option(
      '--include-fields <table.field,...>',
      'add fields left out by default (e.g. profiles.predictive_analytics: a slower rate tier)',
      list,
    )
    .addOption(deletionSweepOption())
    .addOption(conversionMetricOption())
    .addOption(attributionWindowOption())
    .addOption(json)
    .action(async (name: string, opts) => {
      const apiKey = (await readApiKey(opts.apiKeyStdin, true)) as string;
      const created = await withApi((api) =>
        api.create({
          name,
          displayName: opts.displayName,
          description: opts.description,
          apiKey,
          baseUrl: opts.baseUrl,
          tables: opts.tables,
          excludeFields: opts.excludeFields,
          fields: opts.fields,
          includeFields: opts.includeFields,
          deletionSweep: opts.deletionSweep,
          conversionMetric: opts.conversionMetric,
          attributionWindowDays: opts.attributionWindow,
        }),
      );
      print(opts, dataflowSummary(created), () =>
        [
          `Created dataflow ${created.name} (${created.tablesCount} tables selected, key ${maskedKey(created)}).`,
          `Next: dataflow tables ${created.name}   |   dataflow run ${created.name} --wait`,
        ].join('\n'),
      );
    });

  program
    .command('tables <name>')
    .description(
      'the tables of a dataflow: purpose, name, type, selected (or the scopes it needs), fields selected/total',
    )
    .option('--fields', 'list the fields of each table, the selected ones marked')
    .addOption(json)
    .action(async (name: string, opts) => {
      const rows = await withApi((api) => api.tables(name));
      print(opts, rows, () => (opts.fields ? renderTableFields(rows) : renderTables(rows)));
    });

  program
    .command('show <name>')
    .description('one dataflow: display name, description, status, key (masked), schedule, dates, last error')
    .addOption(json)
    .action(async (name: string, opts) => {
      const row: Dataflow & Partial<DataflowListRow> = await withApi(async (api) => {
        const dataflow = await api.get(name);
        return (await api.list()).find((r) => r.id === dataflow.id) ?? dataflow;
      });
      print(
        opts,
        {
          ...dataflowSummary(row),
          schedule: row.scheduleSpec ?? null,
          nextRun: row.nextRun ?? null,
        },
        () => renderDataflow(row, maskedKey(row)),
      );
    });

  program
    .command('edit <name>')
    .description('change the key, display name, description, base URL, tables or fields')
    .option('--display-name <text>')
    .option('--description <text>')
    .option('--api-key-stdin', 'read a new API key from stdin')
    .option('--base-url <url>')
    .option('--tables <names>', 'comma-separated tables to import', list)
    .option('--exclude-fields <table.field,...>', 'fields to leave out', list)
    .option('--fields <table.field,...>', 'exactly these fields for each table named', list)
    .option(
      '--include-fields <table.field,...>',
      'add fields left out by default (e.g. profiles.predictive_analytics: a slower rate tier)',
      list,
    )
    .addOption(deletionSweepOption())
    .addOption(conversionMetricOption())
    .addOption(attributionWindowOption())
    .addOption(json)
    .action(async (name: string, opts) => {
      const apiKey = opts.apiKeyStdin ? await readApiKey(true, true) : undefined;
      const updated = await withApi((api) =>
        api.edit(name, {
          displayName: opts.displayName,
          description: opts.description,
          apiKey,
          baseUrl: opts.baseUrl,
          tables: opts.tables,
          excludeFields: opts.excludeFields,
          fields: opts.fields,
          includeFields: opts.includeFields,
          deletionSweep: opts.deletionSweep,
          conversionMetric: opts.conversionMetric,
          attributionWindowDays: opts.attributionWindow,
        }),
      );
      print(opts, { ...dataflowSummary(updated), changed: updated.changed }, () =>
        updated.changed
          ? `Updated dataflow ${updated.name}.`
          : `Nothing to change: ${updated.name} already has these settings.`,
      );
    });

  program
    .command('list')
    .description('every dataflow with its status, tables, dates and next scheduled run')
    .addOption(new Option('--group-by <key>', 'group rows').choices(LIST_GROUP_KEYS))
    .addOption(json)
    .action(async (opts) => {
      const rows = await withApi((api) => api.list());
      const groups = groupRows(rows, opts.groupBy);
      print(
        opts,
        opts.groupBy
          ? Object.fromEntries(
              [...groups].map(([k, v]) => [k, v.map((r) => ({ ...dataflowSummary(r), nextRun: r.nextRun }))]),
            )
          : rows.map((r) => ({ ...dataflowSummary(r), schedule: r.scheduleSpec, nextRun: r.nextRun })),
        () => renderDataflowList(rows, opts.groupBy),
      );
    });

  program
    .command('run <name>')
    .description('start a run; with --wait, show live per-table progress and the outcome')
    .option('--wait', 'wait for the outcome, showing progress')
    .option('--full', 're-read every table even where an incremental refresh is possible')
    .addOption(json)
    .action(async (name: string, opts) => {
      await withApi(async (api) => {
        const started = await api.run(name, { full: opts.full });
        if (!opts.json) console.log(`Run started: ${started.url}`);
        if (!opts.wait) {
          if (opts.json) print(opts, started, () => '');
          return;
        }
        const result = await followRun(api, started, opts);
        print(opts, { ...started, ...result }, () => renderRunResult(result));
      });
    });

  program
    .command('cancel <name>')
    .description('cancel the operation in progress; the previous version stays live')
    .addOption(json)
    .action(async (name: string, opts) => {
      const cancelled = await withApi((api) => api.cancel(name));
      print(opts, cancelled, () => `Cancellation requested: ${cancelled.url}`);
    });

  program
    .command('retry <name>')
    .description('extract the failed tables of the run that needs attention again, into its kept version, and commit')
    .option('--table <name>', 'only this failed table (repeat, or separate with commas)', collectList, [])
    .option('--wait', 'wait for the outcome, showing progress')
    .addOption(json)
    .action(async (name: string, opts) => {
      await withApi(async (api) => {
        const retried = await api.retry(name, opts.table);
        if (!opts.json) {
          console.log(
            `Retrying ${retried.tables.join(', ')} of ${name} into version ${retried.version}: ${retried.url}`,
          );
        }
        if (!opts.wait) {
          if (opts.json) print(opts, retried, () => '');
          return;
        }
        const result = await followRun(api, retried, opts, retried.round);
        print(opts, { ...retried, ...result }, () => renderRunResult(result));
      });
    });

  program
    .command('discard <name>')
    .description('end the run that needs attention: its version is discarded, the live one stays')
    .addOption(json)
    .action(async (name: string, opts) => {
      const discarded = await withApi((api) => api.discard(name));
      print(
        opts,
        discarded,
        () =>
          `Discarded version ${discarded.version} of ${name}; the previous version stays live. The run failed: ` +
          `${discarded.error}\n  see ${discarded.url}`,
      );
    });

  program
    .command('rollback <name>')
    .description('bring every table back to the previous committed version')
    .addOption(json)
    .action(async (name: string, opts) => {
      const result = await withApi((api) => api.rollback(name));
      print(
        opts,
        result,
        () => `Rolled ${result.dataflow} back from version ${result.fromVersion} to ${result.toVersion}: ${result.url}`,
      );
    });

  program
    .command('remove <name>')
    .description('delete the dataflow, its schedule and every table it created')
    .option('--yes', 'do not ask for confirmation')
    .option(
      '--cascade',
      "also drop the objects others built on the dataflow's tables (their views), which else refuse it",
    )
    .addOption(json)
    .action(async (name: string, opts) => {
      if (!opts.yes) {
        if (!process.stdin.isTTY) throw new UserInputError('Refusing to remove without confirmation: add --yes.');
        const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
        const answer = await rl.question(
          `Remove dataflow "${name}" and every table it created${opts.cascade ? ', with the objects others built on them' : ''}? ` +
            'Type its name to confirm: ',
        );
        rl.close();
        if (answer.trim().toLowerCase() !== name.toLowerCase())
          throw new UserInputError('Not confirmed; nothing was removed.');
      }
      const result = await withApi((api) => api.remove(name, { cascade: opts.cascade === true }));
      const also = result.droppedDependents?.length ? `; also dropped ${result.droppedDependents.join(', ')}` : '';
      print(
        opts,
        result,
        () => `Removed ${result.dataflow} (${result.droppedTables} tables dropped${also}): ${result.url}`,
      );
    });

  program
    .command('history <name>')
    .description('one row per run, rollback and remove, from Temporal')
    .addOption(json)
    .action(async (name: string, opts) => {
      const runs = await withApi((api) => api.history(name));
      print(opts, runs, () => renderHistory(name, runs));
    });

  program
    .command('entities <name>')
    .description('the tables a dataflow created, their rows and the version they show')
    .addOption(json)
    .action(async (name: string, opts) => {
      const rows = await withApi((api) => api.entities(name));
      print(opts, rows, () => renderEntities(name, rows));
    });

  program
    .command('schedule <name>')
    .description('refresh on a cron expression or an interval; pause, resume or delete the schedule')
    .option('--cron <expression>', 'e.g. "0 */6 * * *" (UTC)')
    .option('--every <interval>', 'e.g. 30m, 6h, 1d')
    .option('--pause')
    .option('--resume')
    .option('--delete')
    .addOption(json)
    .action(async (name: string, opts) => {
      const chosen = ['cron', 'every', 'pause', 'resume', 'delete'].filter((k) => opts[k] !== undefined);
      if (chosen.length !== 1)
        throw new UserInputError('Give exactly one of --cron, --every, --pause, --resume, --delete.');
      await withApi(async (api) => {
        if (opts.pause || opts.resume) {
          await api.pauseSchedule(name, Boolean(opts.pause));
          print(
            opts,
            { paused: Boolean(opts.pause) },
            () => `Schedule of ${name} ${opts.pause ? 'paused' : 'resumed'}.`,
          );
        } else if (opts.delete) {
          const deleted = await api.deleteSchedule(name);
          print(opts, { deleted }, () => (deleted ? `Schedule of ${name} deleted.` : `${name} had no schedule.`));
        } else {
          const view = await api.schedule(name, opts.cron !== undefined ? { cron: opts.cron } : { every: opts.every });
          print(opts, view, () => `Scheduled ${name}: ${view.spec}; next run ${formatTime(view.nextRun)}.`);
        }
      });
    });

  return program;
}

/** Exit statuses: documented in README.md's CLI section. */
export const EXIT_CODES = { ok: 0, internal: 1, input: 2, operationFailed: 3 } as const;

/**
 * Prints an error in the words {@link reportOf} gives it (the console shows the same) and returns the exit
 * status: 3 for an operation that ran and failed or was cancelled, 1 for a bug or an infrastructure
 * failure, 2 for everything a user can fix (input, not found, busy, Klaviyo's answer).
 */
export function reportError(err: unknown, asJson: boolean): number {
  const report = reportOf(err);
  if (asJson)
    console.error(
      JSON.stringify({
        error: report.message,
        code: report.code,
        kind: report.kind,
        ...(report.url ? { url: report.url } : {}),
      }),
    );
  else console.error(`error: ${report.message}${report.url ? `\n  see ${report.url}` : ''}`);
  if (report.kind === 'operation-failed') return EXIT_CODES.operationFailed;
  return report.kind === 'internal' ? EXIT_CODES.internal : EXIT_CODES.input;
}

export async function main(): Promise<void> {
  const asJson = process.argv.includes('--json');
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    // Commander has printed its own message (usage, unknown option, bad choice); help and --version exit 0.
    if (err instanceof CommanderError) process.exitCode = err.exitCode === 0 ? 0 : EXIT_CODES.input;
    else process.exitCode = reportError(err, asJson);
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
