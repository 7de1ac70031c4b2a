import { Command, CommanderError } from 'commander';
import { reportOf } from './error-report';
import { registerDataflowCommands, registerEntitiesCommand } from './commands/dataflow-commands';
import { registerOperationCommands } from './commands/operation-commands';
import { registerScheduleCommand } from './commands/schedule-commands';

export function buildProgram(): Command {
  const program = new Command('dataflow')
    .description('Klaviyo dataflows on Temporal: import Klaviyo into Postgres as versioned, atomically committed loads')
    .showHelpAfterError()
    // Usage errors leave as CommanderErrors, so main() exits 2 for them like for any input error.
    .exitOverride();
  // The commands of client/commands/, in the order `--help` lists them.
  registerDataflowCommands(program);
  registerOperationCommands(program);
  registerEntitiesCommand(program);
  registerScheduleCommand(program);
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
