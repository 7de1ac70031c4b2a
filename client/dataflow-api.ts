import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Pool } from 'pg';
import type { Dataflow } from '../control-plane/dataflows';
import type { Entity, EntityPreview } from '../warehouse/entities';
import type { Config } from '../shared/config';
import type { RemoveResult, RollbackResult, RunResult, Trigger } from '../shared/operations';
import type { ConnectionSettings } from '../shared/connection-settings';
import type { ScheduleSpecInput, ScheduleView } from '../shared/schedules';
import type { RunRecord } from './run-history';
import { closeContext, openContext, type ApiContext, type StartedOperation } from './api/context';
import * as configuration from './api/configuration';
import * as discovery from './api/discovery';
import * as listing from './api/listing';
import * as progress from './api/progress';
import * as operations from './api/operations';
import * as attention from './api/attention';
import * as schedules from './api/schedules';
import type { CreateDataflowInput, EditDataflowInput, EditedDataflow } from './api/configuration';
import type { Discovery } from './api/discovery';
import type { DataflowListRow, TableRow } from './api/listing';
import type { LiveProgress } from './api/progress';

export type { ApiContext, StartedOperation } from './api/context';
export type { CreateDataflowInput, EditDataflowInput, EditedDataflow } from './api/configuration';
export type { Discovery } from './api/discovery';
export type { DataflowListRow, TableRow } from './api/listing';
export { retryingText, type LiveProgress, type PendingAttempt } from './api/progress';
export { OperationFailedError, RunNeedsAttentionError } from './api/operations';
export { selectionFor, type SelectionChoice } from './api/selection';

/**
 * The typed API behind the `dataflow` CLI, the console (and the tests): configuration in the control plane,
 * operations as Temporal workflows, history from Temporal's visibility store. One door; each concern lives in a
 * module of client/api/ that the methods hand their work to.
 */
export class DataflowApi {
  private constructor(private readonly ctx: ApiContext) {}

  static async connect(config?: Config, settings?: ConnectionSettings): Promise<DataflowApi> {
    return new DataflowApi(await openContext(config, settings));
  }

  get pool(): Pool {
    return this.ctx.pool;
  }

  get temporal(): Client {
    return this.ctx.temporal;
  }

  get settings(): ConnectionSettings {
    return this.ctx.settings;
  }

  async close(): Promise<void> {
    await closeContext(this.ctx);
  }

  // ---- configuration (client/api/configuration.ts, discovery.ts, listing.ts) ----------------

  /** Validates the name and the key against Klaviyo, discovers the readable tables, saves. */
  create(input: CreateDataflowInput): Promise<Dataflow> {
    return configuration.create(this.ctx, input);
  }

  /** Changes what is given; an edit that changes nothing writes nothing and returns `changed: false`. */
  edit(name: string, input: EditDataflowInput): Promise<EditedDataflow> {
    return configuration.edit(this.ctx, name, input);
  }

  get(name: string): Promise<Dataflow> {
    return listing.get(this.ctx, name);
  }

  tables(name: string): Promise<TableRow[]> {
    return listing.tables(this.ctx, name);
  }

  list(): Promise<DataflowListRow[]> {
    return listing.list(this.ctx);
  }

  entities(name: string): Promise<Entity[]> {
    return listing.entities(this.ctx, name);
  }

  /** The first rows (default 50) of one of the dataflow's tables, from the version readers see now. */
  preview(name: string, table: string, limit?: number): Promise<EntityPreview> {
    return listing.preview(this.ctx, name, table, limit);
  }

  /** Connect without saving: proves the key (and host) and tells what it can read. */
  connect(apiKey: string, baseUrl?: string): Promise<Discovery> {
    return discovery.connect(apiKey, baseUrl);
  }

  /** Connect for an edit: a new key or host when given, else the saved ones. */
  connectSaved(name: string, input?: { apiKey?: string; baseUrl?: string }): Promise<Discovery> {
    return discovery.connectSaved(this.ctx, name, input);
  }

  /** The name rule and uniqueness (case-insensitive), as create applies them; returns the name to save. */
  checkNewName(input: string): Promise<string> {
    return discovery.checkNewName(this.ctx, input);
  }

  // ---- operations (client/api/operations.ts, attention.ts, progress.ts) ---------------------

  /** Starts a run; `trigger` is what the history shows. */
  run(name: string, options?: { full?: boolean; trigger?: Trigger }): Promise<StartedOperation> {
    return operations.run(this.ctx, name, options);
  }

  /** Waits for a run with live progress; see {@link operations.waitForRun}. */
  waitForRun(
    started: StartedOperation,
    onProgress?: (progress: LiveProgress) => void,
    options?: { afterRound?: number },
  ): Promise<RunResult> {
    return operations.waitForRun(this.ctx, started, onProgress, options);
  }

  /** The workflow's table states with live rows/pages and retries; see {@link progress.progress}. */
  progress(handle: WorkflowHandle): Promise<LiveProgress> {
    return progress.progress(handle);
  }

  /** The operation in flight on a dataflow, if any, with its Web UI link. */
  running(name: string): Promise<(StartedOperation & { operation: string }) | null> {
    return progress.running(this.ctx, name);
  }

  /** Live progress of the run in flight on a dataflow; null when no run is in flight. */
  runProgress(name: string): Promise<(LiveProgress & { url: string }) | null> {
    return progress.runProgress(this.ctx, name);
  }

  cancel(name: string): Promise<StartedOperation> {
    return operations.cancel(this.ctx, name);
  }

  /** Extracts the failed tables of the run that needs attention again; see {@link attention.retry}. */
  retry(
    name: string,
    tables?: string[],
  ): Promise<StartedOperation & { tables: string[]; version: number | null; round: number }> {
    return attention.retry(this.ctx, name, tables);
  }

  /** Ends the run that needs attention as a failed run ends; see {@link attention.discard}. */
  discard(name: string): Promise<StartedOperation & { version: number | null; error: string }> {
    return attention.discard(this.ctx, name);
  }

  /** Brings every table back to the previous committed version; see {@link operations.rollback}. */
  rollback(name: string): Promise<RollbackResult & { url: string }> {
    return operations.rollback(this.ctx, name);
  }

  /** Removes the dataflow, its schedule and its warehouse objects; see {@link operations.remove}. */
  remove(name: string, options?: { cascade?: boolean }): Promise<RemoveResult & { url: string }> {
    return operations.remove(this.ctx, name, options);
  }

  history(name: string, limit?: number): Promise<RunRecord[]> {
    return progress.history(this.ctx, name, limit);
  }

  // ---- schedules (client/api/schedules.ts) ---------------------------------------------------

  schedule(name: string, spec: ScheduleSpecInput): Promise<ScheduleView> {
    return schedules.schedule(this.ctx, name, spec);
  }

  /** The dataflow's schedule as Temporal has it now, or null. */
  scheduleOf(name: string): Promise<ScheduleView | null> {
    return schedules.scheduleOf(this.ctx, name);
  }

  pauseSchedule(name: string, pause: boolean): Promise<void> {
    return schedules.pauseSchedule(this.ctx, name, pause);
  }

  deleteSchedule(name: string): Promise<boolean> {
    return schedules.deleteSchedule(this.ctx, name);
  }
}
