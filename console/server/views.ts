import { selectedByDefault } from '../../klaviyo/report-catalog';
import type { Dataflow } from '../../control-plane/dataflows';
import type { Discovery, LiveProgress } from '../../client/dataflow-api';
import { dataflowSummary } from '../../client/dataflow-summary';
import type { RunRecord } from '../../client/run-history';
import type { ScheduleView as ApiScheduleView } from '../../shared/schedules';
import type {
  ConnectResult,
  DataflowView,
  DiscoveredTable,
  HistoryRecord,
  RunProgressView,
  ScheduleView,
} from '../api-types';

/** How the API shows what `DataflowApi` returns: plain JSON, dates as ISO strings, the key only as its mask. */

const iso = (date: Date | null | undefined) => (date ? date.toISOString() : null);

export function scheduleView(view: ApiScheduleView | null): ScheduleView | null {
  return view ? { spec: view.spec, paused: view.paused, nextRun: iso(view.nextRun) } : null;
}

export function dataflowView(d: Dataflow, schedule: ScheduleView | null): DataflowView {
  const summary = dataflowSummary(d);
  return {
    ...summary,
    created: summary.created.toISOString(),
    updated: summary.updated.toISOString(),
    lastRefresh: iso(summary.lastRefresh),
    schedule,
  };
}

export function discoveredTables(discovery: Discovery): DiscoveredTable[] {
  return discovery.tables.map(({ table, readable, missingScopes, slowTierFields, defaultFields }) => {
    const slow = new Set(slowTierFields);
    const defaults = new Set(defaultFields);
    return {
      name: table.name,
      purpose: table.purpose,
      type: table.resourceType,
      readable,
      selectedByDefault: selectedByDefault(table),
      missingScopes,
      fields: table.fields.map((f) => ({
        name: f.name,
        type: f.type,
        slowTier: slow.has(f.name),
        defaultSelected: defaults.has(f.name),
      })),
    };
  });
}

export function connectResult(discovery: Discovery): ConnectResult {
  return { accountId: discovery.accountId, apiKeyMask: discovery.apiKeyMask, tables: discoveredTables(discovery) };
}

export function progressView(progress: LiveProgress & { url: string }): RunProgressView {
  return {
    status: progress.status,
    phase: progress.phase,
    version: progress.version,
    url: progress.url,
    ...(progress.attention ? { attention: progress.attention } : {}),
    tables: progress.tables.map((t) => ({
      table: t.table,
      state: t.state,
      rows: t.rows,
      pages: t.pages,
      ...(t.error ? { error: t.error } : {}),
      ...(t.retrying ? { retrying: t.retrying } : {}),
    })),
  };
}

export function historyRecord(r: RunRecord): HistoryRecord {
  return {
    workflowId: r.workflowId,
    runId: r.runId,
    operation: r.operation,
    trigger: r.trigger,
    status: r.status,
    version: r.version,
    ...(r.fromVersion !== undefined ? { fromVersion: r.fromVersion } : {}),
    ...(r.toVersion !== undefined ? { toVersion: r.toVersion } : {}),
    start: r.start.toISOString(),
    end: iso(r.end),
    durationMs: r.durationMs,
    rows: r.tables.reduce((sum, t) => sum + t.rows, 0),
    tables: r.tables.map((t) => ({ table: t.table, rows: t.rows, pages: t.pages })),
    description: r.error,
    url: r.url,
  };
}
