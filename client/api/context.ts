/**
 * What every part of the DataflowApi door (client/dataflow-api.ts) shares: the connections (Postgres, Temporal),
 * the settings and the secret box, and the two questions most operations ask first: which operation is in flight
 * on a dataflow, and the Web UI link of a started one.
 */
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { Pool } from 'pg';
import { migrateToLatest } from '../../control-plane/migrate';
import { SecretBox } from '../../control-plane/secret-box';
import { loadApiKey, type Dataflow } from '../../control-plane/dataflows';
import { readConfig, type Config } from '../../shared/config';
import { failedTablesText, operationWorkflowId, type RunProgress } from '../../shared/operations';
import { resolveConnectionSettings, type ConnectionSettings } from '../../shared/connection-settings';
import { connectionOptions, explainConnectionFailure, PLAIN_GRPC } from '../../shared/temporal-connection';
import { UserInputError } from '../../shared/user-input-error';
import { runningOperation, runUrl } from '../run-history';

export interface ApiContext {
  readonly pool: Pool;
  readonly temporal: Client;
  readonly connection: Connection;
  readonly settings: ConnectionSettings;
  readonly secrets: SecretBox;
}

export interface StartedOperation {
  workflowId: string;
  runId: string;
  url: string;
}

/** Opens the connections: migrates the control plane, then proves Temporal answers (else says how to start it). */
export async function openContext(
  config: Config = readConfig(),
  settings = resolveConnectionSettings(config),
): Promise<ApiContext> {
  await migrateToLatest(settings.databaseUrl);
  const pool = new Pool({ connectionString: settings.databaseUrl, max: 4 });
  pool.on('error', () => undefined); // an idle connection dropped by Postgres; the next query reconnects
  const security = settings.temporalSecurity ?? PLAIN_GRPC;
  let connection: Connection;
  try {
    connection = await Connection.connect({
      address: settings.temporalAddress,
      connectTimeout: '5s',
      ...connectionOptions(security),
    });
    // Connecting checks nothing the server demands of the caller (an API key, a namespace): one cheap call does.
    await connection.workflowService.describeNamespace({ namespace: settings.namespace });
  } catch (err) {
    await pool.end();
    const secured = Boolean(security.tls || security.apiKey);
    throw new UserInputError(
      (await explainConnectionFailure(settings.temporalAddress, security, err)) +
        (secured ? '' : ' Start the local stack with `npm run stack`, or set TEMPORAL_ADDRESS.'),
    );
  }
  const temporal = new Client({ connection, namespace: settings.namespace });
  return { pool, temporal, connection, settings, secrets: await SecretBox.fromConfig(config) };
}

/** Closes what {@link openContext} opened. */
export async function closeContext(ctx: ApiContext): Promise<void> {
  await ctx.connection.close();
  await ctx.pool.end();
}

/** A started operation with its Web UI link (the run id given, else the handle's first, else asked). */
export async function started(ctx: ApiContext, handle: WorkflowHandle, runId?: string): Promise<StartedOperation> {
  const first = 'firstExecutionRunId' in handle ? (handle.firstExecutionRunId as string) : undefined;
  const id = runId ?? first ?? (await handle.describe()).runId;
  return {
    workflowId: handle.workflowId,
    runId: id,
    url: runUrl(ctx.settings.uiUrl, ctx.settings.namespace, handle.workflowId, id),
  };
}

/** The operation in flight on a dataflow, if any; a run that needs attention says which tables failed. */
export async function runningInfo(
  ctx: ApiContext,
  dataflow: Dataflow,
): Promise<{ workflowId: string; runId: string; operation: string; attention?: string } | null> {
  // The on-demand id first (visibility may lag a just-started run), then anything tagged with the name.
  let found: { workflowId: string; runId: string; operation: string } | null = null;
  try {
    const description = await ctx.temporal.workflow.getHandle(operationWorkflowId(dataflow.name)).describe();
    if (description.status.name === 'RUNNING') {
      found = { workflowId: description.workflowId, runId: description.runId, operation: description.type };
    }
  } catch {
    // never started: fall through
  }
  if (!found) {
    const info = await runningOperation(ctx.temporal, dataflow.name);
    found = info ? { workflowId: info.workflowId, runId: info.runId, operation: info.type } : null;
  }
  if (found?.operation !== 'runDataflow') return found;
  // A run waiting on failed tables is told apart: the way out is retry or discard, not waiting.
  const progress = await ctx.temporal.workflow
    .getHandle(found.workflowId, found.runId)
    .query<RunProgress>('progress')
    .catch(() => null);
  return progress?.phase === 'needs-attention' ? { ...found, attention: failedTablesText(progress) } : found;
}

/** The dataflow's saved key, decrypted. */
export async function savedKey(ctx: ApiContext, dataflow: Dataflow): Promise<string> {
  return loadApiKey(ctx.pool, ctx.secrets, dataflow.id);
}
