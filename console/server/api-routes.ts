import type { z } from 'zod/v4';
import { findTable, slowTierFields } from '../../klaviyo/catalog';
import { selectedByDefault } from '../../klaviyo/report-catalog';
import { selectionFor, type DataflowApi } from '../../client/dataflow-api';
import { reportOf } from '../../client/error-report';
import type {
  ConnectorInfo,
  DataflowListItem,
  DiscardResult,
  NameCheck,
  RetryStarted,
  SavedTable,
  TableChoice,
} from '../api-types';
import { ConsoleHttpError } from './http-errors';
import { schemas } from './request-schemas';
import { connectResult, dataflowView, historyRecord, progressView, scheduleView } from './views';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface RouteContext<B, Q> {
  api: DataflowApi;
  params: Record<string, string>;
  body: B;
  query: Q;
}

/** One API route: what it takes and answers (for the OpenAPI document) and what it does. */
export interface ApiRoute<B = unknown, Q = unknown> {
  method: HttpMethod;
  path: string;
  summary: string;
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  /** @default 200 */
  status?: number;
  /** The type in `console/api-types.ts` the route answers with. */
  returns: string;
  handle(ctx: RouteContext<B, Q>): Promise<unknown>;
}

function route<B = undefined, Q = undefined>(r: ApiRoute<B, Q>): ApiRoute {
  return r as unknown as ApiRoute;
}

const CONNECTORS: ConnectorInfo[] = [
  {
    type: 'Klaviyo',
    name: 'Klaviyo',
    categories: ['Marketing'],
    description: 'Email and SMS marketing: profiles, events, lists, segments, campaigns, flows and more.',
  },
];

/** The console's table choice in the API's terms: each table named gets exactly its fields. */
function selection(tables: TableChoice[] | undefined): { tables?: string[]; tableFields?: Record<string, string[]> } {
  if (!tables) return {};
  if (tables.length === 0) {
    throw new ConsoleHttpError(400, 'InvalidSelection', 'Select at least one table to import.', 'tables');
  }
  return {
    tables: tables.map((t) => t.name),
    tableFields: Object.fromEntries(tables.map((t) => [t.name, t.fields])),
  };
}

async function schedule(api: DataflowApi, name: string) {
  return scheduleView(await api.scheduleOf(name));
}

/** Pause and resume: one call with the flag, answering the schedule as it now is. */
function pauseRoute(action: 'pause' | 'resume'): ApiRoute {
  return route({
    method: 'POST',
    path: `/api/dataflows/:name/schedule/${action}`,
    summary: action === 'pause' ? 'Pauses the schedule.' : 'Resumes the schedule.',
    body: schemas.emptyBody,
    returns: 'ScheduleView',
    handle: async ({ api, params }) => {
      await api.pauseSchedule(params.name, action === 'pause');
      return schedule(api, params.name);
    },
  });
}

export const API_ROUTES: ApiRoute[] = [
  route({
    method: 'GET',
    path: '/api/connectors',
    summary: 'The connectors a dataflow can use (Klaviyo today).',
    returns: 'ConnectorInfo[]',
    handle: async () => CONNECTORS,
  }),
  route({
    method: 'GET',
    path: '/api/name-check',
    summary: 'Whether a name follows the rule and is free (names are unique regardless of case).',
    query: schemas.nameCheckQuery,
    returns: 'NameCheck',
    handle: async ({ api, query }): Promise<NameCheck> => {
      try {
        await api.checkNewName(query.name);
        return { ok: true };
      } catch (err) {
        const report = reportOf(err);
        if (report.kind === 'internal') throw err;
        return { ok: false, code: report.code, message: report.message };
      }
    },
  }),
  route({
    method: 'POST',
    path: '/api/connect',
    summary: 'Validates a key against Klaviyo and discovers the tables it can read; saves nothing.',
    body: schemas.connectBody,
    returns: 'ConnectResult',
    handle: async ({ api, body }) => connectResult(await api.connect(body.apiKey, body.baseUrl || undefined)),
  }),
  route({
    method: 'GET',
    path: '/api/dataflows',
    summary: 'Every dataflow, with its schedule and the operation in flight (with a run’s progress).',
    returns: 'DataflowListItem[]',
    handle: async ({ api }) => {
      const rows = await api.list();
      return Promise.all(
        rows.map(async (row): Promise<DataflowListItem> => {
          const running = await api.running(row.name).catch(() => null);
          const progress = running?.operation === 'run' ? await api.runProgress(row.name).catch(() => null) : null;
          return {
            ...dataflowView(
              row,
              row.scheduleSpec
                ? { spec: row.scheduleSpec, paused: row.schedulePaused, nextRun: row.nextRun?.toISOString() ?? null }
                : null,
            ),
            running: running
              ? { operation: running.operation, url: running.url, progress: progress ? progressView(progress) : null }
              : null,
          };
        }),
      );
    },
  }),
  route({
    method: 'POST',
    path: '/api/dataflows',
    summary: 'Creates a dataflow: validates the name and the key, discovers the tables, saves the selection.',
    body: schemas.createBody,
    status: 201,
    returns: 'DataflowView',
    handle: async ({ api, body }) => {
      const created = await api.create({
        name: body.name,
        displayName: body.displayName || undefined,
        description: body.description,
        apiKey: body.apiKey,
        baseUrl: body.baseUrl || undefined,
        deletionSweep: body.deletionSweep,
        ...selection(body.tables),
      });
      return dataflowView(created, null);
    },
  }),
  route({
    method: 'GET',
    path: '/api/dataflows/:name',
    summary: 'One dataflow, its key masked.',
    returns: 'DataflowView',
    handle: async ({ api, params }) => dataflowView(await api.get(params.name), await schedule(api, params.name)),
  }),
  route({
    method: 'PATCH',
    path: '/api/dataflows/:name',
    summary: 'Changes the display name, description, key (validated first), host, tables or fields.',
    body: schemas.editBody,
    returns: 'DataflowView',
    handle: async ({ api, params, body }) => {
      const updated = await api.edit(params.name, {
        displayName: body.displayName,
        description: body.description,
        apiKey: body.apiKey,
        baseUrl: body.baseUrl || undefined,
        deletionSweep: body.deletionSweep,
        ...selection(body.tables),
      });
      return dataflowView(updated, await schedule(api, params.name));
    },
  }),
  route({
    method: 'DELETE',
    path: '/api/dataflows/:name',
    summary:
      'Removes the dataflow, its schedule and every table it created (confirm with the name); objects others built ' +
      'on its tables refuse it (409 DependentObjects, naming them) unless cascade=true.',
    query: schemas.removeQuery,
    returns: 'RemoveResult',
    handle: async ({ api, params, query }) => {
      const dataflow = await api.get(params.name);
      if (query.confirm.toLowerCase() !== dataflow.name.toLowerCase()) {
        throw new ConsoleHttpError(
          400,
          'NotConfirmed',
          `Not confirmed; nothing was removed. Confirm with the dataflow's name, "${dataflow.name}".`,
          'confirm',
        );
      }
      return api.remove(dataflow.name, { cascade: query.cascade === 'true' });
    },
  }),
  route({
    method: 'POST',
    path: '/api/dataflows/:name/connect',
    summary: 'Connect for an edit: a new key (or host) when given, else the saved one; saves nothing.',
    body: schemas.reconnectBody,
    returns: 'ConnectResult',
    handle: async ({ api, params, body }) =>
      connectResult(await api.connectSaved(params.name, { apiKey: body.apiKey, baseUrl: body.baseUrl || undefined })),
  }),
  route({
    method: 'GET',
    path: '/api/dataflows/:name/tables',
    summary: 'The tables of a dataflow: what is selected, with which fields, and what the key cannot read.',
    returns: 'SavedTable[]',
    handle: async ({ api, params }): Promise<SavedTable[]> => savedTables(api, params.name),
  }),
  route({
    method: 'POST',
    path: '/api/dataflows/:name/runs',
    summary: 'Starts a run (incremental where possible; `full` re-reads everything).',
    body: schemas.runBody,
    status: 202,
    returns: 'StartedOperation',
    handle: async ({ api, params, body }) => api.run(params.name, { full: body.full }),
  }),
  route({
    method: 'GET',
    path: '/api/dataflows/:name/progress',
    summary: 'Live progress of the run in flight, per table; null when none runs.',
    returns: 'RunProgressView | null',
    handle: async ({ api, params }) => {
      const progress = await api.runProgress(params.name);
      return progress ? progressView(progress) : null;
    },
  }),
  route({
    method: 'POST',
    path: '/api/dataflows/:name/cancel',
    summary: 'Cancels the operation in flight; the previous version stays live.',
    body: schemas.emptyBody,
    returns: 'StartedOperation',
    handle: async ({ api, params }) => api.cancel(params.name),
  }),
  route({
    method: 'POST',
    path: '/api/dataflows/:name/retry',
    summary:
      'For a run that needs attention: extracts its failed tables (or those named) again into its kept version, ' +
      'then commits. Answers at once; the progress shows the run going on.',
    body: schemas.retryBody,
    status: 202,
    returns: 'RetryStarted',
    handle: async ({ api, params, body }): Promise<RetryStarted> => api.retry(params.name, body.tables),
  }),
  route({
    method: 'POST',
    path: '/api/dataflows/:name/discard',
    summary:
      'For a run that needs attention: ends it as a failed run (its staged version is discarded, the live one stays).',
    body: schemas.emptyBody,
    returns: 'DiscardResult',
    handle: async ({ api, params }): Promise<DiscardResult> => api.discard(params.name),
  }),
  route({
    method: 'POST',
    path: '/api/dataflows/:name/rollback',
    summary: 'Brings every table back to the previous committed version.',
    body: schemas.emptyBody,
    returns: 'RollbackResult',
    handle: async ({ api, params }) => api.rollback(params.name),
  }),
  route({
    method: 'GET',
    path: '/api/dataflows/:name/history',
    summary: 'Every run, rollback and remove, newest first, with the Description of a failure.',
    query: schemas.historyQuery,
    returns: 'HistoryRecord[]',
    handle: async ({ api, params, query }) => (await api.history(params.name, query.limit)).map(historyRecord),
  }),
  route({
    method: 'GET',
    path: '/api/dataflows/:name/entities',
    summary: 'The tables readers query, with their row counts and the version each shows.',
    returns: 'EntityView[]',
    handle: async ({ api, params }) => api.entities(params.name),
  }),
  route({
    method: 'GET',
    path: '/api/dataflows/:name/entities/:table/preview',
    summary: 'The first rows (default 50) of one entity, from the live version.',
    query: schemas.previewQuery,
    returns: 'EntityPreview',
    handle: async ({ api, params, query }) => api.preview(params.name, params.table, query.limit),
  }),
  route({
    method: 'GET',
    path: '/api/dataflows/:name/schedule',
    summary: 'The schedule, or null.',
    returns: 'ScheduleView | null',
    handle: async ({ api, params }) => {
      return schedule(api, params.name);
    },
  }),
  route({
    method: 'PUT',
    path: '/api/dataflows/:name/schedule',
    summary: 'Sets the schedule: a cron expression (UTC) or an interval such as 30m, 6h, 1d.',
    body: schemas.scheduleBody,
    returns: 'ScheduleView',
    handle: async ({ api, params, body }) => scheduleView(await api.schedule(params.name, body)),
  }),
  pauseRoute('pause'),
  pauseRoute('resume'),
  route({
    method: 'DELETE',
    path: '/api/dataflows/:name/schedule',
    summary: 'Deletes the schedule.',
    returns: '{ deleted: boolean }',
    handle: async ({ api, params }) => ({ deleted: await api.deleteSchedule(params.name) }),
  }),
];

/** The saved selection, with each field's default and slow-tier mark from the same rule create applies. */
async function savedTables(api: DataflowApi, name: string): Promise<SavedTable[]> {
  const rows = await api.tables(name);
  return rows.flatMap((row) => {
    const table = findTable(row.name);
    if (!table) return [];
    const slow = new Set(slowTierFields(table));
    const defaults = new Set(
      selectionFor([table], { tables: [table.name] }).find((t) => t.table === table.name)?.fields,
    );
    return [
      {
        name: table.name,
        purpose: table.purpose,
        type: table.resourceType,
        readable: row.readable,
        selectedByDefault: selectedByDefault(table),
        missingScopes: row.missingScopes,
        selected: row.selected,
        selectedFields: row.selectedFields,
        fields: table.fields.map((f) => ({
          name: f.name,
          type: f.type,
          slowTier: slow.has(f.name),
          defaultSelected: defaults.has(f.name),
        })),
      },
    ];
  });
}
