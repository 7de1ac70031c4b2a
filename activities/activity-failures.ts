import { ApplicationFailure } from '@temporalio/common';
import { isKlaviyoError } from '../klaviyo/errors';
import { DataflowError } from '../control-plane/errors';
import { redactSecrets } from '../secrets/api-key';

/**
 * Turns whatever an activity threw into an ApplicationFailure with a stable `type`, the user's words
 * as its message, and no cause: a got error (headers included) or a driver error must never travel
 * into Temporal's history. `secrets` are cut out of any message that slips through.
 */
export function toApplicationFailure(err: unknown, secrets: readonly string[] = []): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const redact = (text: string) => redactSecrets(text, secrets);
  if (isKlaviyoError(err) || err instanceof DataflowError) {
    return ApplicationFailure.create({ type: err.type, message: redact(err.message), nonRetryable: !err.retryable });
  }
  const message = err instanceof Error ? err.message : String(err);
  const type = err instanceof Error ? err.name || 'Error' : 'Error';
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  return ApplicationFailure.create({
    type: type === 'Error' && /^[A-Z0-9]{5}$|^E[A-Z]+$/.test(code) ? `Postgres${code}` : type,
    message: describeInfrastructureFailure(redact(message), code),
    nonRetryable: false,
  });
}

/** Database and network failures in words that point at the fix. */
function describeInfrastructureFailure(message: string, code: string): string {
  if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(message)) {
    return `The warehouse database refused the connection (${message}). Check that Postgres is running and DATABASE_URL points at it.`;
  }
  // 57P03: starting up, shutting down or in recovery; "not currently accepting connections": ALLOW_CONNECTIONS false.
  if (code === '57P03' || /not currently accepting connections/.test(message)) {
    return `The warehouse database is not accepting connections (${message}). Check that Postgres is up and accepts connections to the database in DATABASE_URL.`;
  }
  if (code === '57P01' || /terminating connection/.test(message)) {
    return `The warehouse database closed the connection (${message}); the step is retried.`;
  }
  return message;
}
