/** The schedule command: a cron expression or an interval; pause, resume or delete. */
import type { Command } from 'commander';
import { formatTime } from '../text-table';
import { UserInputError } from '../../shared/user-input-error';
import { jsonOption, print, withApi } from './shared';

export function registerScheduleCommand(program: Command): void {
  const json = jsonOption();

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
}
