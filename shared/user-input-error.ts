/**
 * A request the user can fix: the CLI prints the message alone (no stack) and exits with status 2; the
 * console answers 400 (409 for `DataflowBusy`), both with this `code`.
 */
export class UserInputError extends Error {
  readonly type = 'UserInputError';
  constructor(
    message: string,
    /** Stable, for scripts: e.g. `InvalidInput`, `DataflowBusy`, `InvalidSchedule`. */
    readonly code = 'InvalidInput',
  ) {
    super(message);
    this.name = 'UserInputError';
  }
}
