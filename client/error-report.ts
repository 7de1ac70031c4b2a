import { isKlaviyoError } from '../klaviyo/errors';
import { DataflowError } from '../control-plane/errors';
import { UserInputError } from '../shared/user-input-error';

/**
 * What kind of failure a user is looking at; the CLI turns it into an exit status and the console into an
 * HTTP status, so both doors classify every error the same way, here.
 */
export type ErrorKind = 'input' | 'not-found' | 'conflict' | 'klaviyo' | 'operation-failed' | 'internal';

export interface ErrorReport {
  kind: ErrorKind;
  /** Stable, e.g. `InvalidDataflowName`, `DataflowNotFound`, `DataflowBusy`, `KlaviyoInvalidApiKey`. */
  code: string;
  /** The user's words: the same in the CLI and the console. */
  message: string;
  /** The Temporal Web UI page of the operation the error is about. */
  url?: string;
}

const CONFLICTS = new Set(['DataflowExists', 'DataflowBusy', 'SchemaConflict', 'WarehouseBusy', 'DependentObjects']);

/** Anything thrown by the API, classified and worded for a user; never a stack or request options. */
export function reportOf(err: unknown): ErrorReport {
  const message = err instanceof Error ? err.message : String(err);
  // Only an operation's failure (or a run that needs attention) carries the link to its run; a Klaviyo error's
  // `url` is the request it made.
  const operationFailed = (err as { type?: unknown })?.type === 'OperationFailed';
  const needsAttention = (err as { type?: unknown })?.type === 'NeedsAttention';
  const url =
    (operationFailed || needsAttention) && typeof (err as { url?: unknown }).url === 'string'
      ? (err as { url: string }).url
      : undefined;
  const withUrl = (report: ErrorReport): ErrorReport => (url ? { ...report, url } : report);
  if (err instanceof UserInputError) {
    return withUrl({ kind: CONFLICTS.has(err.code) ? 'conflict' : 'input', code: err.code, message });
  }
  if (err instanceof DataflowError) {
    const kind: ErrorKind =
      err.type === 'DataflowNotFound' ? 'not-found' : CONFLICTS.has(err.type) ? 'conflict' : 'input';
    return withUrl({ kind, code: err.type, message });
  }
  if (isKlaviyoError(err)) return withUrl({ kind: 'klaviyo', code: err.type, message });
  if (needsAttention) return withUrl({ kind: 'operation-failed', code: 'NeedsAttention', message });
  if (operationFailed) {
    return withUrl({ kind: 'operation-failed', code: 'OperationFailed', message });
  }
  return withUrl({ kind: 'internal', code: 'Internal', message });
}
