import { z } from 'zod';
import { hash32, saltOf, unit } from '../random';

export const FAULT_KINDS = ['status', 'reset', 'slow', 'truncate', 'malformed'] as const;
/**
 * - `status`: an error answer with that HTTP status (default 500);
 * - `reset`: the connection is destroyed without an answer;
 * - `slow`: the answer is delayed by `delayMs`;
 * - `truncate`: status 200, the JSON body cut in half;
 * - `malformed`: status 200, a body that is not valid JSON.
 */
export type FaultKind = (typeof FAULT_KINDS)[number];

/** A deterministic fault: "page 7 of events fails 3 times", "profiles always fails with 503". */
export interface FaultRule {
  /** Catalog table name; omitted = every table. */
  table?: string;
  /** 1-based page number within a read (from the cursor); omitted = every page. */
  page?: number;
  /**
   * Only requests with this `sort` parameter, as sent; omitted = any. `datetime` picks a sliced read's pages of events,
   * and neither the key check's probe (unsorted) nor the read's probe of its last second (`-datetime`).
   */
  sort?: string;
  /** How many matching requests fail; omitted = all of them. */
  times?: number;
  /** @default 'status' */
  kind?: FaultKind;
  /** For `status`. @default 500 */
  status?: number;
  /** For `slow`. @default 2000 */
  delayMs?: number;
}

/** Faults on demand. Random shares are drawn from `seed` and a request counter, so a run is repeatable. */
export interface FaultConfig {
  /** @default the sandbox seed */
  seed?: number;
  /** Share (0..1) of requests answered with a 5xx status from `errorStatuses`. */
  errorRate?: number;
  /** @default [500, 503] */
  errorStatuses?: number[];
  /** Share of requests answered late, by `delayMs`. */
  slowRate?: number;
  /** @default 2000 */
  delayMs?: number;
  /** Share of requests whose connection is destroyed. */
  resetRate?: number;
  /** Share of 200 answers whose body is cut in half. */
  truncateRate?: number;
  /** Share of 200 answers whose body is not JSON. */
  malformedRate?: number;
  rules?: FaultRule[];
}

const rate = z.number().min(0).max(1);
export const faultConfigSchema = z
  .object({
    seed: z.number().int().optional(),
    errorRate: rate.optional(),
    errorStatuses: z.array(z.number().int().min(400).max(599)).min(1).optional(),
    slowRate: rate.optional(),
    delayMs: z.number().int().min(0).max(600_000).optional(),
    resetRate: rate.optional(),
    truncateRate: rate.optional(),
    malformedRate: rate.optional(),
    rules: z
      .array(
        z
          .object({
            table: z.string().optional(),
            page: z.number().int().min(1).optional(),
            sort: z.string().min(1).optional(),
            times: z.number().int().min(1).optional(),
            kind: z.enum(FAULT_KINDS).optional(),
            status: z.number().int().min(400).max(599).optional(),
            delayMs: z.number().int().min(0).max(600_000).optional(),
          })
          .strict(),
      )
      .optional(),
  })
  .strict();

/** What to do to one request: delay it, and/or replace its answer. */
export interface FaultDecision {
  delayMs: number;
  action:
    | { kind: 'none' }
    | { kind: 'status'; status: number }
    | { kind: 'reset' }
    | { kind: 'truncate' }
    | { kind: 'malformed' };
}

const NONE: FaultDecision = { delayMs: 0, action: { kind: 'none' } };

export class FaultInjector {
  private config: FaultConfig = {};
  private remaining: (number | undefined)[] = [];
  private counter = 0;

  constructor(private readonly defaultSeed: number) {}

  get current(): FaultConfig {
    return structuredClone(this.config);
  }

  /** Replaces the configuration ({} = no faults) and restarts rule counts and the random sequence. */
  set(config: FaultConfig): void {
    const parsed = faultConfigSchema.parse(config);
    this.config = parsed;
    this.remaining = (parsed.rules ?? []).map((r) => r.times);
    this.counter = 0;
  }

  /** `sort`: the request's `sort` parameter, null without one. */
  decide(table: string, page: number, sort: string | null = null): FaultDecision {
    const c = this.config;
    const rules = c.rules ?? [];
    let delayMs = 0;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i];
      if (rule.table !== undefined && rule.table !== table) continue;
      if (rule.page !== undefined && rule.page !== page) continue;
      if (rule.sort !== undefined && rule.sort !== sort) continue;
      const left = this.remaining[i];
      if (left !== undefined) {
        if (left <= 0) continue;
        this.remaining[i] = left - 1;
      }
      const kind = rule.kind ?? 'status';
      if (kind === 'slow') {
        delayMs += rule.delayMs ?? 2000;
        continue;
      }
      return { delayMs, action: kind === 'status' ? { kind, status: rule.status ?? 500 } : { kind } };
    }

    const anyRandom = c.errorRate || c.slowRate || c.resetRate || c.truncateRate || c.malformedRate;
    if (!anyRandom) return delayMs === 0 ? NONE : { delayMs, action: { kind: 'none' } };
    const seed = c.seed ?? this.defaultSeed;
    const n = this.counter++;
    const draw = (what: string) => unit(hash32(seed, saltOf(what), n));
    if (c.slowRate && draw('slow') < c.slowRate) delayMs += c.delayMs ?? 2000;
    if (c.errorRate && draw('error') < c.errorRate) {
      const statuses = c.errorStatuses ?? [500, 503];
      return {
        delayMs,
        action: { kind: 'status', status: statuses[hash32(seed, saltOf('status'), n) % statuses.length] },
      };
    }
    if (c.resetRate && draw('reset') < c.resetRate) return { delayMs, action: { kind: 'reset' } };
    if (c.truncateRate && draw('truncate') < c.truncateRate) return { delayMs, action: { kind: 'truncate' } };
    if (c.malformedRate && draw('malformed') < c.malformedRate) return { delayMs, action: { kind: 'malformed' } };
    return { delayMs, action: { kind: 'none' } };
  }
}
