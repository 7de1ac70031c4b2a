/** The commands on operations: run, cancel, retry, discard, rollback, remove, and their history. */
import type { Command } from 'commander';
import readline from 'node:readline/promises';
import type { DataflowApi, StartedOperation } from '../dataflow-api';
import type { RunResult } from '../../shared/operations';
import { eraseLines, ProgressBoard, progressLine, renderHistory, renderRunResult } from '../cli-output';
import { UserInputError } from '../../shared/user-input-error';
import { collectList, jsonOption, print, withApi, type Output } from './shared';

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
}
