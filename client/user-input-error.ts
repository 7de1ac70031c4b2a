/**
 * A request the user can fix: the CLI prints the message alone (no stack) and exits with status 2.
 */
export class UserInputError extends Error {
  readonly type = 'UserInputError';
  constructor(message: string) {
    super(message);
    this.name = 'UserInputError';
  }
}
