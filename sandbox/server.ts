import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { findTable } from '../klaviyo/catalog';
import { Dataset } from './data/dataset';
import { deleteRecords, type DeleteResult } from './data/deletions';
import { DEFAULT_START_SECONDS, type AdvanceRequest, type AdvanceResult } from './data/world-state';
import { handleAdmin } from './http/admin-handler';
import { handleApi } from './http/api-handler';
import { ApiKeys, type KeyScopes } from './http/api-keys';
import { FaultInjector, type FaultConfig } from './http/faults';
import { LatencyModel, type LatencyConfig, type LatencyUpdate } from './http/latency';
import { RateLimiter } from './http/rate-limiter';
import { ReportQuota, type ReportQuotaSettings } from './http/report-quota';
import { RequestLog, type RequestLogEntry } from './http/request-log';
import { parseRevisionsAsOf } from './http/revisions';
import { resolveSizes, type SandboxSizes } from './sizes';

export type { FaultConfig, FaultKind, FaultRule } from './http/faults';
export type { RequestLogEntry } from './http/request-log';
export type { LatencyConfig, LatencyUpdate } from './http/latency';
export type { SandboxSizes } from './sizes';
export type { AdvanceRequest, AdvanceResult } from './data/world-state';
export type { DeleteResult } from './data/deletions';
export { DEFAULT_SIZES } from './sizes';

export interface SandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Same seed, same data and keys. @default 1 */
  seed?: number;
  sizes?: Partial<SandboxSizes>;
  /**
   * `reportsPerDay` and `reportDaySeconds` set the Reporting API's daily quota, counted even when `enabled` is false.
   * @default { enabled: true, scale: 1, reportsPerDay: 225, reportDaySeconds: 86400 }
   */
  rateLimits?: RateLimitOptions;
  faults?: FaultConfig;
  /** How long answers take (http/latency.ts). @default none: answers as fast as the sandbox makes them */
  latency?: LatencyUpdate;
  /** Adds control characters, NUL and injection-looking text to string values. @default false */
  hostile?: boolean;
  /** The sandbox clock before any `advance`, ISO 8601. @default '2026-01-01T00:00:00Z' */
  startTime?: string;
  /** Entries the request log keeps (a ring buffer). @default 10000 */
  requestLogCapacity?: number;
  /**
   * The day (YYYY-MM-DD) Klaviyo's revision lifecycle is judged on: revisions a year old are deprecated (answers carry
   * `Deprecation` and `Sunset` headers), two years old retired (410). @default '2026-10-15'
   */
  revisionsAsOf?: string;
}

export interface RateLimitOptions extends ReportQuotaSettings {
  enabled: boolean;
  scale?: number;
}

export interface Sandbox {
  /** e.g. `http://127.0.0.1:40123`, no trailing slash. */
  baseUrl: string;
  /** `noProfiles` has every read scope except `profiles:read`. */
  keys: { full: string; readOnly: string; noProfiles: string };
  /** Replaces the fault configuration; `{}` = none. */
  setFaults(faults: FaultConfig): void;
  /** Replaces the rate limits and the report quota's settings (requests it already counted stay counted). */
  setRateLimits(r: RateLimitOptions): void;
  /** Replaces the latency model (`{}` = off). */
  setLatency(latency: LatencyUpdate): void;
  /**
   * Moves the clock (one hour unless `hours` says otherwise), changes `changeProfiles` profiles (`updated` within the
   * new hour, `first_name`/`title`/`properties.sandbox_revision` change), appends `addEvents` events dated within the
   * new hour and `backdatedEvents` events dated up to `backdateWindowHours` (default 72) before the new clock, and
   * `futureEvents` events dated `futureHours` (default 720) after it, as Klaviyo accepts.
   */
  advance(a: AdvanceRequest): AdvanceResult;
  /**
   * Deletes records of a top-level table by id, as Klaviyo's DELETE endpoints do: listings leave them out from then
   * on, with what they own (see sandbox/data/deletions.ts). Throws a RangeError for an unknown table or id.
   */
  deleteRecords(table: string, ids: readonly string[]): DeleteResult;
  createKey(scopes: string[] | 'full' | 'read-only'): string;
  revokeKey(key: string): void;
  requestLog(): RequestLogEntry[];
  requestCounts(): Record<string, number>;
  resetRequestLog(): void;
  /**
   * The ids a complete read of a catalog table yields. For fan-out tables an id is `<parentId>:<id>`, e.g.
   * `<list id>:<profile id>` for list_memberships or `<tag id>:<list id>` for tag_lists. coupon_codes (top-level,
   * filter by coupon) yields every coupon code id.
   */
  expectedIds(table: string): AsyncIterable<string> | Iterable<string>;
  expectedCount(table: string): number;
  /** The sandbox clock (ISO 8601). */
  clock(): string;
  close(): Promise<void>;
}

/** Starts a Klaviyo sandbox on a local port. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const seed = options.seed ?? 1;
  const sizes = resolveSizes(options.sizes);
  const startSec = options.startTime ? Date.parse(options.startTime) / 1000 : DEFAULT_START_SECONDS;
  if (!Number.isFinite(startSec)) throw new RangeError(`Invalid startTime "${options.startTime}"`);
  const dataset = new Dataset({ seed, sizes, hostile: options.hostile ?? false, startSec: Math.floor(startSec) });
  const keys = new ApiKeys(dataset.seed);
  const limiter = new RateLimiter(options.rateLimits ?? { enabled: true });
  const reportQuota = new ReportQuota(options.rateLimits ?? {}, () => dataset.state.clockSec - dataset.state.startSec);
  const faults = new FaultInjector(dataset.seed);
  faults.set(options.faults ?? {});
  const latency = new LatencyModel(dataset.seed);
  latency.set(options.latency ?? {});
  const log = new RequestLog(options.requestLogCapacity ?? 10_000);
  const revisionsAsOf = parseRevisionsAsOf(options.revisionsAsOf);
  let baseUrl = '';

  const checkTable = (table: string) => {
    if (!findTable(table)) throw new RangeError(`Unknown table "${table}"`);
  };

  const sandbox: Sandbox = {
    baseUrl: '',
    keys: { ...keys.standard },
    setFaults: (config) => faults.set(config),
    setRateLimits: (settings) => {
      reportQuota.set(settings);
      limiter.set(settings);
    },
    setLatency: (settings) => latency.set(settings),
    advance: (request: AdvanceRequest) => dataset.state.advance(request),
    deleteRecords: (table, ids) => deleteRecords(dataset, table, ids),
    createKey: (scopes: KeyScopes) => keys.create(scopes),
    revokeKey: (key) => void keys.revoke(key),
    requestLog: () => log.entries(),
    requestCounts: () => log.counts(),
    resetRequestLog: () => log.reset(),
    expectedIds: (table) => {
      checkTable(table);
      return dataset.expectedIds(table);
    },
    expectedCount: (table) => {
      checkTable(table);
      return dataset.expectedCount(table);
    },
    clock: () => new Date(dataset.state.clockSec * 1000).toISOString(),
    close: () => close(),
  };

  const info = () => ({
    baseUrl,
    keys: sandbox.keys,
    seed: dataset.seed,
    clock: sandbox.clock(),
    sizes,
    hostile: dataset.hostile,
    rateLimits: { ...limiter.current, ...reportQuota.current },
    reportQuota: reportQuota.status(),
    faults: faults.current,
    latency: latency.current satisfies LatencyConfig,
    revisionsAsOf,
  });
  const apiContext = {
    dataset,
    keys,
    limiter,
    faults,
    latency,
    log,
    reportQuota,
    revisionsAsOf,
    baseUrl: () => baseUrl,
  };

  const server = http.createServer((req, res) => {
    const handler = (req.url ?? '').startsWith('/__sandbox')
      ? handleAdmin({ sandbox, info }, req, res)
      : handleApi(apiContext, req, res);
    handler.catch((err: unknown) => {
      console.error('sandbox: request failed', err);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  baseUrl = `http://${host}:${address.port}`;
  sandbox.baseUrl = baseUrl;

  let closing: Promise<void> | undefined;
  function close(): Promise<void> {
    closing ??= new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeAllConnections();
    });
    return closing;
  }
  return sandbox;
}
