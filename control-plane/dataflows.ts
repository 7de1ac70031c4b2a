import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { DEFAULT_DELETION_SWEEP, type DeletionSweep } from '../klaviyo/deletion-sweep';
import { apiKeyHint } from '../secrets/api-key';
import { CONTROL_TABLES } from './control-schema';
import {
  checkBaseUrl,
  checkDisplayName,
  checkSchedule,
  checkUuid,
  dataflowChangesSchema,
  DEFAULT_KLAVIYO_BASE_URL,
  newDataflowSchema,
  parseInput,
  TEXT_LIMITS,
  type ConnectorType,
  type DataflowChanges,
  type NewDataflow,
} from './dataflow-input';
import { validateDataflowName } from './dataflow-name';
import { writeTables } from './dataflow-tables';
import {
  checkApiKeyFormat,
  DataflowExistsError,
  DataflowNotFoundError,
  InvalidDataflowInputError,
  SchemaConflictError,
} from './errors';
import { camelCased, PG_ERRORS, pgErrorCode, pgErrorConstraint, withTransaction, type Queryable } from './postgres';
import type { SecretBox } from './secret-box';
import { checkStorableText } from './storable-text';
import { fullSelection, resolveSelection } from './table-selection';

export const DATAFLOW_STATUSES = ['New', 'Running', 'Succeeded', 'Failed', 'Cancelled', 'NeedsAttention'] as const;
export type DataflowStatus = (typeof DATAFLOW_STATUSES)[number];

/** A dataflow as everyone but {@link loadApiKey} sees it: the key only as its last 4 characters. */
export interface Dataflow {
  id: string;
  name: string;
  displayName: string;
  description: string;
  connectorType: ConnectorType;
  baseUrl: string;
  apiKeyHint: string;
  accountId: string | null;
  status: DataflowStatus;
  lastError: string | null;
  /** How the schedule reads for a person, e.g. "every 6 hours"; the schedule itself lives in Temporal. */
  schedule: string | null;
  /** The version the warehouse views show; null before the first commit. */
  currentVersion: number | null;
  /** When tables refreshed incrementally are swept for rows deleted in Klaviyo, if not cheap (deletion-sweep.ts). */
  deletionSweep: DeletionSweep;
  /** Selected tables. */
  tablesCount: number;
  createdAt: Date;
  updatedAt: Date;
  lastRefreshAt: Date | null;
}

const SELECT_DATAFLOW = `
  SELECT d.id, d.name, d.display_name, d.description, d.connector_type, d.base_url, d.api_key_hint,
         d.account_id, d.status, d.last_error, d.schedule, d.current_version, d.created_at, d.updated_at,
         d.last_refresh_at, d.deletion_sweep,
         (SELECT count(*)::int FROM ${CONTROL_TABLES.dataflowTables} t WHERE t.dataflow_id = d.id AND t.selected)
           AS tables_count
  FROM ${CONTROL_TABLES.dataflows} d`;

interface DataflowRow {
  id: string;
  name: string;
  display_name: string;
  description: string;
  connector_type: ConnectorType;
  base_url: string;
  api_key_hint: string;
  account_id: string | null;
  status: DataflowStatus;
  last_error: string | null;
  schedule: string | null;
  current_version: number | null;
  created_at: Date;
  updated_at: Date;
  last_refresh_at: Date | null;
  deletion_sweep: DeletionSweep;
  tables_count: number;
}

/**
 * Saves a new dataflow and its table selection. The API key is checked for shape (not against
 * Klaviyo) and stored encrypted; its last 4 characters are kept as a hint.
 * @throws InvalidDataflowNameError, DataflowExistsError, SchemaConflictError, InvalidApiKeyFormatError,
 *   InvalidDataflowInputError, InvalidSelectionError
 */
export async function createDataflow(pool: pg.Pool, secrets: SecretBox, input: NewDataflow): Promise<Dataflow> {
  const parsed = parseInput(newDataflowSchema, input);
  const name = validateDataflowName(parsed.name);
  const apiKey = checkApiKeyFormat(parsed.apiKey);
  const displayName = checkDisplayName(parsed.displayName ?? name);
  const description = checkStorableText('description', parsed.description ?? '', TEXT_LIMITS.description);
  const baseUrl = checkBaseUrl(parsed.baseUrl ?? DEFAULT_KLAVIYO_BASE_URL);
  const schedule = checkSchedule(parsed.schedule ?? null);
  const tables = resolveSelection(parsed.tables ?? fullSelection());
  const id = randomUUID();
  const sealedKey = secrets.seal(apiKey, apiKeyContext(id));

  try {
    await withTransaction(pool, async (client) => {
      const existing = await findByName(client, name);
      if (existing) throw new DataflowExistsError(existing.name);
      const schema = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [name.toLowerCase()]);
      if (schema.rowCount) {
        throw new SchemaConflictError(
          `The database already has a schema named "${name.toLowerCase()}", which this dataflow's tables would ` +
            'go into. Choose another name, or drop that schema first.',
        );
      }
      await client.query(
        `INSERT INTO ${CONTROL_TABLES.dataflows}
           (id, name, display_name, description, connector_type, base_url, api_key_encrypted, api_key_hint,
            account_id, schedule, deletion_sweep)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          id,
          name,
          displayName,
          description,
          parsed.connectorType ?? 'Klaviyo',
          baseUrl,
          sealedKey,
          apiKeyHint(apiKey),
          parsed.accountId ?? null,
          schedule,
          parsed.deletionSweep ?? DEFAULT_DELETION_SWEEP,
        ],
      );
      await writeTables(client, id, tables);
    });
  } catch (err) {
    // Two creations racing past the check above: the unique index decides, and the message stays the same.
    if (pgErrorCode(err) === PG_ERRORS.uniqueViolation && pgErrorConstraint(err) === 'dataflows_name_lower_key') {
      const existing = await findByName(pool, name);
      throw new DataflowExistsError(existing?.name ?? name);
    }
    throw err;
  }
  return getDataflowById(pool, id);
}

/** The dataflow of that name, whatever its case. @throws DataflowNotFoundError */
export async function getDataflow(db: Queryable, name: string): Promise<Dataflow> {
  const found = await findByName(db, name);
  if (!found) throw new DataflowNotFoundError(name);
  return found;
}

/** The dataflow of that id. @throws DataflowNotFoundError */
export async function getDataflowById(db: Queryable, id: string): Promise<Dataflow> {
  const { rows } = await db.query<DataflowRow>(`${SELECT_DATAFLOW} WHERE d.id = $1`, [checkUuid(id)]);
  if (rows.length === 0) throw new DataflowNotFoundError(id, 'id');
  return toDataflow(rows[0]);
}

/** Every dataflow, by name (case-insensitively). */
export async function listDataflows(db: Queryable): Promise<Dataflow[]> {
  const { rows } = await db.query<DataflowRow>(`${SELECT_DATAFLOW} ORDER BY lower(d.name)`);
  return rows.map(toDataflow);
}

/**
 * Changes what an edit may change, in one transaction. A new API key is checked and re-encrypted;
 * a new table selection replaces the old one (it applies from the next run).
 * @throws DataflowNotFoundError and the validation errors of {@link createDataflow}
 */
export async function updateDataflow(
  pool: pg.Pool,
  secrets: SecretBox,
  name: string,
  changes: DataflowChanges,
): Promise<Dataflow> {
  const parsed = parseInput(dataflowChangesSchema, changes);
  const sets: string[] = [];
  const values: unknown[] = [];
  const set = (column: string, value: unknown) => {
    values.push(value);
    sets.push(`${column} = $${values.length}`);
  };
  if (parsed.displayName !== undefined) set('display_name', checkDisplayName(parsed.displayName));
  if (parsed.description !== undefined) {
    set('description', checkStorableText('description', parsed.description, TEXT_LIMITS.description));
  }
  if (parsed.baseUrl !== undefined) set('base_url', checkBaseUrl(parsed.baseUrl));
  if (parsed.accountId !== undefined) set('account_id', parsed.accountId);
  if (parsed.schedule !== undefined) set('schedule', checkSchedule(parsed.schedule));
  if (parsed.deletionSweep !== undefined) set('deletion_sweep', parsed.deletionSweep);
  const apiKey = parsed.apiKey === undefined ? undefined : checkApiKeyFormat(parsed.apiKey);
  const tables = parsed.tables === undefined ? undefined : resolveSelection(parsed.tables);

  const id = await withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ id: string }>(
      `SELECT id FROM ${CONTROL_TABLES.dataflows} WHERE lower(name) = lower($1) FOR UPDATE`,
      [name],
    );
    if (rows.length === 0) throw new DataflowNotFoundError(name);
    const dataflowId = rows[0].id;
    if (apiKey !== undefined) {
      set('api_key_encrypted', secrets.seal(apiKey, apiKeyContext(dataflowId)));
      set('api_key_hint', apiKeyHint(apiKey));
    }
    values.push(dataflowId);
    await client.query(
      `UPDATE ${CONTROL_TABLES.dataflows} SET ${[...sets, 'updated_at = now()'].join(', ')} WHERE id = $${values.length}`,
      values,
    );
    if (tables !== undefined) await writeTables(client, dataflowId, tables);
    return dataflowId;
  });
  return getDataflowById(pool, id);
}

/**
 * Deletes a dataflow's control-plane rows (selection, versions, checkpoints, lock go with it). Its
 * warehouse schema is the warehouse's to drop, before this. @returns whether a row was deleted
 */
export async function deleteDataflow(db: Queryable, dataflowId: string): Promise<boolean> {
  const result = await db.query(`DELETE FROM ${CONTROL_TABLES.dataflows} WHERE id = $1`, [checkUuid(dataflowId)]);
  return (result.rowCount ?? 0) > 0;
}

/**
 * The decrypted API key: the only way the key leaves the database. Keep it in a local variable of
 * the activity that calls Klaviyo; never return, log or throw it. @throws DataflowNotFoundError, SecretDecryptionError
 */
export async function loadApiKey(db: Queryable, secrets: SecretBox, dataflowId: string): Promise<string> {
  const { rows } = await db.query<{ api_key_encrypted: Buffer }>(
    `SELECT api_key_encrypted FROM ${CONTROL_TABLES.dataflows} WHERE id = $1`,
    [checkUuid(dataflowId)],
  );
  if (rows.length === 0) throw new DataflowNotFoundError(dataflowId, 'id');
  return secrets.open(rows[0].api_key_encrypted, apiKeyContext(dataflowId));
}

/** Records the outcome shown in the list; `lastError` is the words a user reads (cleared when omitted). */
export async function setDataflowStatus(
  db: Queryable,
  dataflowId: string,
  status: DataflowStatus,
  lastError: string | null = null,
): Promise<void> {
  if (!DATAFLOW_STATUSES.includes(status)) throw new InvalidDataflowInputError(`Unknown status "${status}".`);
  const error =
    lastError === null ? null : truncateCodePoints(lastError.replace(/\u0000/g, '\uFFFD'), TEXT_LIMITS.lastError);
  const result = await db.query(`UPDATE ${CONTROL_TABLES.dataflows} SET status = $2, last_error = $3 WHERE id = $1`, [
    checkUuid(dataflowId),
    status,
    error,
  ]);
  if (!result.rowCount) throw new DataflowNotFoundError(dataflowId, 'id');
}

/** The authenticated context of a sealed API key: it opens only in the row it was sealed for. */
function apiKeyContext(dataflowId: string): string {
  return `dataflow:${dataflowId}:api-key`;
}

async function findByName(db: Queryable, name: string): Promise<Dataflow | undefined> {
  const { rows } = await db.query<DataflowRow>(`${SELECT_DATAFLOW} WHERE lower(d.name) = lower($1)`, [name]);
  return rows.length === 0 ? undefined : toDataflow(rows[0]);
}

function toDataflow(row: DataflowRow): Dataflow {
  return camelCased(row);
}

function truncateCodePoints(text: string, max: number): string {
  const points = [...text];
  return points.length <= max ? text : `${points.slice(0, max - 1).join('')}…`;
}
