import type pg from 'pg';
import type { LeaseAnswer, RateLeaseStore } from '../klaviyo/leased-rate-budget';
import { BURST_WINDOW_MS, STEADY_WINDOW_MS, type RateLimits } from '../klaviyo/rate-budget';
import { CONTROL_SCHEMA } from './control-schema';
import { withTransaction } from './postgres';

/**
 * The ledger of Klaviyo rate leases in Postgres, which every worker already shares. One row per budget (account and
 * tier) is locked while a lease is decided, so two workers never grant from the same slots; every time is Postgres's
 * clock. Refused askers keep their place in a queue, and freed slots go to them in turn. The tables hold only the last
 * two minutes or so of leases and places: UNLOGGED (no WAL per lease; after a Postgres crash they start empty, and the
 * few requests in flight then can meet a 429, which the client waits out) and created here, not by a migration, as
 * they hold no state worth migrating.
 */
const BUDGETS = `${CONTROL_SCHEMA}.rate_budgets`;
const LEASES = `${CONTROL_SCHEMA}.rate_leases`;
const WAITERS = `${CONTROL_SCHEMA}.rate_waiters`;

const SCHEMA_SQL = `
  CREATE SCHEMA IF NOT EXISTS ${CONTROL_SCHEMA};
  CREATE UNLOGGED TABLE IF NOT EXISTS ${BUDGETS} (
    budget text PRIMARY KEY,
    paused_until timestamptz
  );
  CREATE UNLOGGED TABLE IF NOT EXISTS ${LEASES} (
    id bigserial PRIMARY KEY,
    budget text NOT NULL,
    count integer NOT NULL CHECK (count >= 0),
    granted_at timestamptz NOT NULL,
    released_at timestamptz,
    expires_at timestamptz NOT NULL
  );
  CREATE INDEX IF NOT EXISTS rate_leases_budget ON ${LEASES} (budget);
  CREATE UNLOGGED TABLE IF NOT EXISTS ${WAITERS} (
    budget text NOT NULL,
    asker text NOT NULL,
    want integer NOT NULL,
    asked_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (budget, asker)
  );`;

/** Serialises the creation of the tables across workers starting together. */
const SCHEMA_LOCK = 'dataflow_control.rate_leases';

interface HeldRow {
  count: number;
  /** Milliseconds from now until the lease stops holding (released, else expired), before the window is added. */
  ends_in_ms: number;
  released: boolean;
}

interface Held {
  count: number;
  endsInMs: number;
  released: boolean;
}

/** How soon to ask again when only a lease still in use would free a slot: its release is not known in advance. */
const POLL_MS = 200;
/** How soon to ask again when free slots are kept for askers ahead, who were told to ask about now. */
const QUEUED_POLL_MS = 50;
/**
 * How long a refused asker keeps its place past the time it was told to ask again: a worker whose thread is busy asks
 * late (asks took up to 830 ms so), and one that died or no longer needs the slots holds them back this long at most.
 */
const PLACE_KEPT_MS = 1_000;

export class PostgresRateLeases implements RateLeaseStore {
  private ready: Promise<void> | undefined;

  constructor(private readonly pool: pg.Pool) {}

  /** Creates the ledger's tables if missing; called before the first lease, safe from many processes. */
  ensureTables(): Promise<void> {
    this.ready ??= withTransaction(this.pool, async (db) => {
      await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [SCHEMA_LOCK]);
      await db.query(SCHEMA_SQL);
    }).catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  async lease(budget: string, limits: RateLimits, want: number, holdMs: number, asker: string): Promise<LeaseAnswer> {
    await this.ensureTables();
    return withTransaction(this.pool, async (db) => {
      await db.query(`INSERT INTO ${BUDGETS} (budget) VALUES ($1) ON CONFLICT (budget) DO NOTHING`, [budget]);
      const { rows: locked } = await db.query<{ paused_ms: number }>(
        `SELECT GREATEST(0, COALESCE(EXTRACT(EPOCH FROM paused_until - clock_timestamp()), 0) * 1000)::float8 AS paused_ms
           FROM ${BUDGETS} WHERE budget = $1 FOR UPDATE`,
        [budget],
      );
      /** Refuses, keeping (or taking) the asker's place in the queue until a little after it should ask again. */
      const refuse = async (retryInMs: number): Promise<LeaseAnswer> => {
        await db.query(
          `INSERT INTO ${WAITERS} (budget, asker, want, asked_at, expires_at)
           VALUES ($1, $2, $3, clock_timestamp(), clock_timestamp() + make_interval(secs => $4))
           ON CONFLICT (budget, asker) DO UPDATE SET want = EXCLUDED.want, expires_at = EXCLUDED.expires_at`,
          [budget, asker, want, (retryInMs + PLACE_KEPT_MS) / 1000],
        );
        return { retryInMs };
      };
      const pausedMs = Number(locked[0].paused_ms);
      if (pausedMs > 0) return refuse(pausedMs);
      // Leases whose hold and window are both over count for nothing, nor do places their askers did not come back to.
      await db.query(
        `DELETE FROM ${LEASES} WHERE budget = $1
            AND LEAST(COALESCE(released_at, 'infinity'), expires_at) + make_interval(secs => $2) < clock_timestamp()`,
        [budget, STEADY_WINDOW_MS / 1000],
      );
      await db.query(`DELETE FROM ${WAITERS} WHERE budget = $1 AND expires_at < clock_timestamp()`, [budget]);
      // Slots kept for askers refused before this one (all of them, if this one has no place yet).
      const { rows: queue } = await db.query<{ ahead: number }>(
        `SELECT COALESCE(SUM(w.want), 0)::int AS ahead FROM ${WAITERS} w
           LEFT JOIN ${WAITERS} me ON me.budget = w.budget AND me.asker = $2
          WHERE w.budget = $1 AND w.asker <> $2 AND (me.asker IS NULL OR (w.asked_at, w.asker) < (me.asked_at, me.asker))`,
        [budget, asker],
      );
      const ahead = Number(queue[0].ahead);
      const { rows } = await db.query<HeldRow>(
        `SELECT count, (released_at IS NOT NULL OR expires_at <= clock_timestamp()) AS released, (EXTRACT(EPOCH FROM LEAST(COALESCE(released_at, 'infinity'), expires_at) - clock_timestamp())
                        * 1000)::float8 AS ends_in_ms
           FROM ${LEASES} WHERE budget = $1`,
        [budget],
      );
      const held = rows.map((r) => ({ count: r.count, endsInMs: Number(r.ends_in_ms), released: r.released }));
      const free = Math.min(
        limits.steady - heldWithin(held, STEADY_WINDOW_MS),
        limits.burst - heldWithin(held, BURST_WINDOW_MS),
      );
      const count = Math.min(want, free - ahead);
      if (count < 1) {
        const freed = Math.max(
          freedIn(held, STEADY_WINDOW_MS, limits.steady, ahead + 1),
          freedIn(held, BURST_WINDOW_MS, limits.burst, ahead + 1),
        );
        return refuse(freed > 0 ? freed : QUEUED_POLL_MS);
      }
      await db.query(`DELETE FROM ${WAITERS} WHERE budget = $1 AND asker = $2`, [budget, asker]);
      const { rows: inserted } = await db.query<{ id: string }>(
        `INSERT INTO ${LEASES} (budget, count, granted_at, expires_at)
         VALUES ($1, $2, clock_timestamp(), clock_timestamp() + make_interval(secs => $3)) RETURNING id`,
        [budget, count, holdMs / 1000],
      );
      return { lease: { id: String(inserted[0].id), count } };
    });
  }

  async release(id: string, used: number): Promise<void> {
    if (used === 0) {
      await this.pool.query(`DELETE FROM ${LEASES} WHERE id = $1`, [id]);
      return;
    }
    // A lease past its expiry already counts as released then: releasing it later would only hold it longer.
    await this.pool.query(
      `UPDATE ${LEASES} SET released_at = LEAST(clock_timestamp(), expires_at), count = LEAST(count, $2)
        WHERE id = $1 AND released_at IS NULL`,
      [id, used],
    );
  }

  async pause(budget: string, ms: number): Promise<void> {
    await this.ensureTables();
    await this.pool.query(
      `INSERT INTO ${BUDGETS} (budget, paused_until) VALUES ($1, clock_timestamp() + make_interval(secs => $2))
       ON CONFLICT (budget) DO UPDATE SET paused_until = GREATEST(COALESCE(${BUDGETS}.paused_until, EXCLUDED.paused_until), EXCLUDED.paused_until)`,
      [budget, ms / 1000],
    );
  }
}

/** Slots still counted against a window of `windowMs`: leases whose hold plus the window reaches past now. */
function heldWithin(held: Held[], windowMs: number): number {
  return held.filter((l) => l.endsInMs + windowMs > 0).reduce((sum, l) => sum + l.count, 0);
}

/**
 * Milliseconds until `need` slots of a window of `windowMs` are free (0 when they are). Askers ahead may need more
 * than the leases held now free: then until the last of them frees, when those askers are served and this one may ask.
 */
function freedIn(held: Held[], windowMs: number, limit: number, need: number): number {
  const counted = held.filter((l) => l.endsInMs + windowMs > 0).sort((a, b) => a.endsInMs - b.endsInMs);
  let over = counted.reduce((sum, l) => sum + l.count, 0) - limit + need;
  if (over <= 0) return 0;
  for (const [i, lease] of counted.entries()) {
    over -= lease.count;
    if (over > 0 && i < counted.length - 1) continue;
    return lease.released ? lease.endsInMs + windowMs : Math.min(POLL_MS, lease.endsInMs + windowMs);
  }
  return 0;
}
