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

/**
 * The base of an error class whose `type` and `retryable` are all that set it apart:
 * `class SchemaConflictError extends dataflowErrorOf('SchemaConflict') {}`. Its `name` stays the subclass's.
 */
export function dataflowErrorOf<T extends string>(type: T, retryable = false) {
  abstract class TypedDataflowError extends DataflowError {
    readonly type: T = type;
    readonly retryable: boolean = retryable;
  }
  return TypedDataflowError;
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

export class InvalidDataflowNameError extends dataflowErrorOf('InvalidDataflowName') {
  constructor(
    readonly problem: NameProblem,
    message: string,
  ) {
    super(message);
  }
}

export class DataflowExistsError extends dataflowErrorOf('DataflowExists') {
  constructor(readonly existingName: string) {
    super(`A dataflow with this name already exists (as "${existingName}"); names are unique regardless of case.`);
  }
}

export class DataflowNotFoundError extends dataflowErrorOf(FAILURE_TYPES.DataflowNotFound) {
  /** @param dataflow the name (or, with `by: 'id'`, the id) that was looked up */
  constructor(
    readonly dataflow: string,
    by: 'name' | 'id' = 'name',
  ) {
    super(by === 'name' ? `No dataflow named "${dataflow}".` : `No dataflow with id ${dataflow}.`);
  }
}

/** A display name, description, base URL or schedule text the control plane cannot store faithfully. */
export class InvalidDataflowInputError extends dataflowErrorOf('InvalidDataflowInput') {}

export class InvalidApiKeyFormatError extends dataflowErrorOf('InvalidApiKeyFormat') {}

/** The key unchanged when it is shaped like a Klaviyo private key. @throws InvalidApiKeyFormatError, never echoing it */
export function checkApiKeyFormat(apiKey: string): string {
  const problem = apiKeyFormatProblem(apiKey);
  if (problem !== undefined) throw new InvalidApiKeyFormatError(problem);
  return apiKey;
}

/** The master key is missing, malformed or unsafe: nothing can be encrypted or decrypted. */
export class MasterKeyError extends dataflowErrorOf('MasterKeyUnavailable') {}

export class SecretDecryptionError extends dataflowErrorOf('SecretUndecryptable') {}

export class DataflowBusyError extends dataflowErrorOf(FAILURE_TYPES.DataflowBusy) {
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
export class InvalidSelectionError extends dataflowErrorOf(FAILURE_TYPES.InvalidSelection) {}

/** A version asked to do what its state forbids, e.g. committing a discarded version. */
export class VersionStateError extends dataflowErrorOf('VersionState') {}

/** A Postgres schema of that name exists and does not belong to this dataflow. */
export class SchemaConflictError extends dataflowErrorOf('SchemaConflict') {}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}
