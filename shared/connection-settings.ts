import type { Config } from './config';
import { readTemporalSecurity, TemporalSecurityError, type TemporalSecurity } from './temporal-connection';
import { readStackFile } from '../stack/stack-file';
import { UserInputError } from './user-input-error';

export interface ConnectionSettings {
  databaseUrl: string;
  temporalAddress: string;
  namespace: string;
  uiUrl: string;
  /** TLS and API key for Temporal (shared/temporal-connection.ts). @default plain gRPC */
  temporalSecurity?: TemporalSecurity;
}

/**
 * Where Postgres and Temporal are: the environment when it says so, else the local stack's
 * `stack.json` (written by `npm run stack`), else Temporal's defaults.
 */
export function resolveConnectionSettings(config: Config, env: NodeJS.ProcessEnv = process.env): ConnectionSettings {
  const stack = readStackFile(config.dataDir);
  const databaseUrl = config.databaseUrl ?? stack?.postgres.url;
  if (!databaseUrl) {
    throw new UserInputError(
      'No database: set DATABASE_URL (e.g. postgres://user@host:5432/db) or start the local stack with `npm run stack`.',
    );
  }
  let temporalSecurity: TemporalSecurity;
  try {
    temporalSecurity = readTemporalSecurity(env);
  } catch (err) {
    throw err instanceof TemporalSecurityError ? new UserInputError(err.message) : err;
  }
  return {
    temporalSecurity,
    databaseUrl,
    temporalAddress: env.TEMPORAL_ADDRESS
      ? config.temporalAddress
      : (stack?.temporal.address ?? config.temporalAddress),
    namespace: env.TEMPORAL_NAMESPACE
      ? config.temporalNamespace
      : (stack?.temporal.namespace ?? config.temporalNamespace),
    uiUrl: env.TEMPORAL_UI_URL ? config.temporalUiUrl : (stack?.temporal.uiUrl ?? config.temporalUiUrl),
  };
}
