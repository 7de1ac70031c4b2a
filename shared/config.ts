import path from 'node:path';
import { z } from 'zod';

/**
 * Settings read from the environment, shared by the worker, the CLI and the local stack.
 * No I/O happens here: callers decide when to read.
 */

export const TASK_QUEUE = 'klaviyo-dataflows';

const envSchema = z.object({
  /** Where the local stack keeps its state (embedded Postgres, Temporal's SQLite file, the master key). */
  DATAFLOW_DATA_DIR: z.string().min(1).optional(),
  /** Postgres for the control plane and the warehouse; unset means the embedded Postgres of the local stack. */
  DATABASE_URL: z.string().min(1).optional(),
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).optional(),
  /** The Temporal Web UI, for links printed by the CLI. */
  TEMPORAL_UI_URL: z.string().url().optional(),
  /** Base64 of 32 bytes; unset means a 0600 file `master.key` in the data directory. */
  DATAFLOW_MASTER_KEY: z.string().min(1).optional(),
});

export interface Config {
  dataDir: string;
  databaseUrl: string | undefined;
  temporalAddress: string;
  temporalNamespace: string;
  temporalUiUrl: string;
  masterKey: string | undefined;
}

/** Reads the configuration from an environment (default: this process's). */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.parse(env);
  return {
    dataDir: path.resolve(parsed.DATAFLOW_DATA_DIR ?? path.join(process.cwd(), '.data')),
    databaseUrl: parsed.DATABASE_URL,
    temporalAddress: parsed.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    temporalNamespace: parsed.TEMPORAL_NAMESPACE ?? 'default',
    temporalUiUrl: parsed.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233',
    masterKey: parsed.DATAFLOW_MASTER_KEY,
  };
}
