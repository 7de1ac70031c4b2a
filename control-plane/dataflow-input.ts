import { z } from 'zod';
import { DELETION_SWEEPS, type DeletionSweep } from '../klaviyo/deletion-sweep';
import { COLUMN_TYPES } from '../klaviyo/catalog';
import { DataflowNotFoundError, InvalidDataflowInputError } from './errors';
import { checkStorableText } from './storable-text';
import type { TableSelectionInput } from './table-selection';

/** What a dataflow is created or edited with, and the checks it passes before anything is written (dataflows.ts). */

export const CONNECTOR_TYPES = ['Klaviyo'] as const;
export type ConnectorType = (typeof CONNECTOR_TYPES)[number];

export const DEFAULT_KLAVIYO_BASE_URL = 'https://a.klaviyo.com';

/** Limits in Unicode code points. */
export const TEXT_LIMITS = { displayName: 200, description: 4000, schedule: 200, lastError: 4000 } as const;

export const tableSelectionSchema = z
  .object({
    table: z.string(),
    selected: z.boolean().optional(),
    fields: z.array(z.string()).optional(),
    availableFields: z
      .array(z.object({ name: z.string(), type: z.enum(COLUMN_TYPES), apiType: z.string() }))
      .optional(),
    missingScopes: z.array(z.string()).optional(),
  })
  .strict();

const changesShape = {
  displayName: z.string().optional(),
  description: z.string().optional(),
  apiKey: z.string().optional(),
  baseUrl: z.string().optional(),
  accountId: z.string().nullable().optional(),
  schedule: z.string().nullable().optional(),
  deletionSweep: z.enum(DELETION_SWEEPS).optional(),
  tables: z.array(tableSelectionSchema).optional(),
};

export const newDataflowSchema = z
  .object({ name: z.string(), connectorType: z.enum(CONNECTOR_TYPES).optional(), ...changesShape, apiKey: z.string() })
  .strict();
export const dataflowChangesSchema = z.object(changesShape).strict();

export interface NewDataflow {
  name: string;
  /** @default 'Klaviyo' */
  connectorType?: ConnectorType;
  /** @default the name */
  displayName?: string;
  /** @default '' */
  description?: string;
  apiKey: string;
  /** @default {@link DEFAULT_KLAVIYO_BASE_URL} */
  baseUrl?: string;
  accountId?: string | null;
  schedule?: string | null;
  /** @default 'daily' */
  deletionSweep?: DeletionSweep;
  /** @default every catalog table with all its fields */
  tables?: TableSelectionInput[];
}

/** What an edit may change; the name never changes, it is the warehouse schema. */
export type DataflowChanges = Partial<Omit<NewDataflow, 'name' | 'connectorType'>>;

export function checkDisplayName(displayName: string): string {
  if (displayName.length === 0) throw new InvalidDataflowInputError('The display name is empty.');
  return checkStorableText('display name', displayName, TEXT_LIMITS.displayName);
}

export function checkSchedule(schedule: string | null): string | null {
  return schedule === null ? null : checkStorableText('schedule', schedule, TEXT_LIMITS.schedule);
}

/**
 * An http(s) URL without credentials (they would end up in logs); stored without a trailing slash.
 * @throws InvalidDataflowInputError in words that say what to give instead
 */
export function checkBaseUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new InvalidDataflowInputError(
      `The base URL ${JSON.stringify(baseUrl)} is not a URL: give the Klaviyo API host with its scheme, ` +
        `e.g. --base-url ${DEFAULT_KLAVIYO_BASE_URL} (the default), or the sandbox's http://127.0.0.1:8180.`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InvalidDataflowInputError(`The base URL must start with https:// or http://.`);
  }
  if (url.username || url.password) {
    throw new InvalidDataflowInputError('The base URL must not contain a user name or password.');
  }
  if (url.search || url.hash) throw new InvalidDataflowInputError('The base URL must not contain a query or fragment.');
  return baseUrl.replace(/\/+$/, '');
}

/** Ids come from our own rows; a malformed one would otherwise surface as a Postgres cast error. */
export function checkUuid(id: string): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id))
    throw new DataflowNotFoundError(id, 'id');
  return id;
}

/** Zod at the edge; its messages name the path and the problem, never the rejected value. */
export function parseInput<S extends z.ZodTypeAny>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || 'input'}: ${issue.message}`);
  throw new InvalidDataflowInputError(`Invalid dataflow input: ${problems.join('; ')}.`);
}
