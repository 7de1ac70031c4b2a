import { apiKeyFormatProblem } from '../secrets/api-key';
import { FAILURE_TYPES } from '../shared/operations';

/**
 * Errors of the control plane and the warehouse. Each has a stable `type` (the `type` of the
 * ApplicationFailure an activity turns it into) and says whether retrying the same call can help.
 * Messages are written for the user and never contain an API key or a master key.
 */
export abstract class DataflowError extends Error {
  abstract readonly type: string;
  abstract readonly retryable: boolean;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export const NAME_PROBLEMS = [
  'empty',
  'starts-with-digit',
  'starts-with-non-letter',
  'contains-space',
  'contains-whitespace',
  'contains-character',
  'non-ascii-letter',
  'too-long',
  'reserved',
] as const;
export type NameProblem = (typeof NAME_PROBLEMS)[number];

export class InvalidDataflowNameError extends DataflowError {
  readonly type = 'InvalidDataflowName';
  readonly retryable = false;
  constructor(
    readonly problem: NameProblem,
    message: string,
  ) {
    super(message);
  }
}

export class DataflowExistsError extends DataflowError {
  readonly type = 'DataflowExists';
  readonly retryable = false;
  constructor(readonly existingName: string) {
    super(`A dataflow with this name already exists (as "${existingName}"); names are unique regardless of case.`);
  }
}

export class DataflowNotFoundError extends DataflowError {
  readonly type = FAILURE_TYPES.DataflowNotFound;
  readonly retryable = false;
  /** @param dataflow the name (or, with `by: 'id'`, the id) that was looked up */
  constructor(
    readonly dataflow: string,
    by: 'name' | 'id' = 'name',
  ) {
    super(by === 'name' ? `No dataflow named "${dataflow}".` : `No dataflow with id ${dataflow}.`);
  }
}

/** A display name, description, base URL or schedule text the control plane cannot store faithfully. */
export class InvalidDataflowInputError extends DataflowError {
  readonly type = 'InvalidDataflowInput';
  readonly retryable = false;
}

export class InvalidApiKeyFormatError extends DataflowError {
  readonly type = 'InvalidApiKeyFormat';
  readonly retryable = false;
}

/** The key unchanged when it is shaped like a Klaviyo private key. @throws InvalidApiKeyFormatError, never echoing it */
export function checkApiKeyFormat(apiKey: string): string {
  const problem = apiKeyFormatProblem(apiKey);
  if (problem !== undefined) throw new InvalidApiKeyFormatError(problem);
  return apiKey;
}

/** The master key is missing, malformed or unsafe: nothing can be encrypted or decrypted. */
export class MasterKeyError extends DataflowError {
  readonly type = 'MasterKeyUnavailable';
  readonly retryable = false;
}

export class SecretDecryptionError extends DataflowError {
  readonly type = 'SecretUndecryptable';
  readonly retryable = false;
}

export class DataflowBusyError extends DataflowError {
  readonly type = FAILURE_TYPES.DataflowBusy;
  readonly retryable = false;
  constructor(
    readonly dataflow: string,
    readonly operation: string,
    readonly workflowId: string,
    readonly since: Date,
  ) {
    super(
      `Dataflow "${dataflow}" is busy: ${article(operation)} ${operation} (workflow ${workflowId}) has been in ` +
        `progress since ${since.toISOString()}. Wait for it to finish or cancel it, then try again.`,
    );
  }
}

/** A table or field selection that names what the catalog does not know. */
export class InvalidSelectionError extends DataflowError {
  readonly type = FAILURE_TYPES.InvalidSelection;
  readonly retryable = false;
}

/** A version asked to do what its state forbids, e.g. committing a discarded version. */
export class VersionStateError extends DataflowError {
  readonly type = 'VersionState';
  readonly retryable = false;
}

/** A Postgres schema of that name exists and does not belong to this dataflow. */
export class SchemaConflictError extends DataflowError {
  readonly type = 'SchemaConflict';
  readonly retryable = false;
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}
