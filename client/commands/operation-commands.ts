/** The commands on operations: run, cancel, retry, discard, rollback, remove, and their history. */
import type { Command } from 'commander';
import readline from 'node:readline/promises';
import type { DataflowApi, StartedOperation } from '../dataflow-api';
import type { RunResult } from '../../shared/operations';
import { eraseLines, ProgressBoard, progressLine, renderHistory, renderRunResult } from '../cli-output';
import { UserInputError } from '../../shared/user-input-error';
import { answerCommand, collectList, jsonOption, print, withApi, type Output } from './shared';

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

/**
 * Prints what became of a started run: `startedLine` first (not with --json); with --wait the run is followed to
 * its outcome (after `afterRound`, for a retry), which is printed; without, the started operation is, with --json.
 */
async function reportStartedRun(
  api: DataflowApi,
  started: StartedOperation,
  opts: Output & { wait?: boolean },
  startedLine: string,
  afterRound?: number,
): Promise<void> {
  if (!opts.json) console.log(startedLine);
  if (!opts.wait) {
    if (opts.json) print(opts, started, () => '');
    return;
  }
  const result = await followRun(api, started, opts, afterRound);
  print(opts, { ...started, ...result }, () => renderRunResult(result));
}

/** run, cancel, retry, discard, rollback, remove and history, in the order `--help` lists them. */
export function registerOperationCommands(program: Command): void {
  const json = jsonOption();

  program
    .command('run <name>')
    .description('start a run; with --wait, show live per-table progress and the outcome')
    .option('--wait', 'wait for the outcome, showing progress')
    .option('--full', 're-read every table even where an incremental refresh is possible')
    .addOption(json)
    .action(async (name: string, opts) => {
      await withApi(async (api) => {
        const started = await api.run(name, { full: opts.full });
        await reportStartedRun(api, started, opts, `Run started: ${started.url}`);
      });
    });

  answerCommand(
    program.command('cancel <name>').description('cancel the operation in progress; the previous version stays live'),
    (api, name) => api.cancel(name),
    (cancelled) => `Cancellation requested: ${cancelled.url}`,
  );

  program
    .command('retry <name>')
    .description('extract the failed tables of the run that needs attention again, into its kept version, and commit')
    .option('--table <name>', 'only this failed table (repeat, or separate with commas)', collectList, [])
    .option('--wait', 'wait for the outcome, showing progress')
    .addOption(json)
    .action(async (name: string, opts) => {
      await withApi(async (api) => {
        const retried = await api.retry(name, opts.table);
        const line = `Retrying ${retried.tables.join(', ')} of ${name} into version ${retried.version}: ${retried.url}`;
        await reportStartedRun(api, retried, opts, line, retried.round);
      });
    });

  answerCommand(
    program
      .command('discard <name>')
      .description('end the run that needs attention: its version is discarded, the live one stays'),
    (api, name) => api.discard(name),
    (discarded, name) =>
      `Discarded version ${discarded.version} of ${name}; the previous version stays live. The run failed: ` +
      `${discarded.error}\n  see ${discarded.url}`,
  );

  answerCommand(
    program.command('rollback <name>').description('bring every table back to the previous committed version'),
    (api, name) => api.rollback(name),
    (result) =>
      `Rolled ${result.dataflow} back from version ${result.fromVersion} to ${result.toVersion}: ${result.url}`,
  );

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

  answerCommand(
    program.command('history <name>').description('one row per run, rollback and remove, from Temporal'),
    (api, name) => api.history(name),
    (runs, name) => renderHistory(name, runs),
  );
}
