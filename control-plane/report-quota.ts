import type pg from 'pg';
import { readPositiveInteger } from '../shared/env-number';
import { CONTROL_SCHEMA } from './control-schema';
import { withTransaction, type Queryable } from './postgres';

/**
 * Klaviyo's daily Reporting API quota (225 requests a day per account), as a ledger in Postgres that every run and
 * worker shares: a run takes one request from it before each report it asks, so two dataflows of one account never
 * overdraw it together, and a run that finds it spent waits (a Temporal timer) until the oldest spend leaves the
 * day. The day is rolling: a spend counts for `daySeconds` from when its answer came, which is never earlier than
 * Klaviyo counted it. A 429 asking to wait hours marks the account spent until then, for every run. Every time is
 * Postgres's clock.
 */

const ACCOUNTS = `${CONTROL_SCHEMA}.report_quota_accounts`;
const SPENDS = `${CONTROL_SCHEMA}.report_quota_spends`;

/** The quota's size and day. */
export interface ReportQuotaLimits {
  /** Requests per day. @default 225 */
  perDay: number;
  /** The length of the rolling day, in seconds. @default 86400 */
  daySeconds: number;
}

export const KLAVIYO_REPORT_QUOTA: ReportQuotaLimits = Object.freeze({ perDay: 225, daySeconds: 86_400 });

/**
 * `KLAVIYO_REPORTS_PER_DAY` and `KLAVIYO_REPORT_DAY_SECONDS`, for an account (or a sandbox) whose quota is not
 * Klaviyo's default; unset means Klaviyo's 225 a day.
 */
export function readReportQuotaLimits(env: NodeJS.ProcessEnv = process.env): ReportQuotaLimits {
  return {
    perDay: readPositiveInteger(env, 'KLAVIYO_REPORTS_PER_DAY', KLAVIYO_REPORT_QUOTA.perDay),
    daySeconds: readPositiveInteger(env, 'KLAVIYO_REPORT_DAY_SECONDS', KLAVIYO_REPORT_QUOTA.daySeconds),
  };
}

/** One request taken from the quota: `id` to mark when its answer came. Or when the quota frees one. */
export type QuotaGrant = { granted: true; id: string } | { granted: false; until: Date };

export class ReportQuotaLedger {
  constructor(
    private readonly pool: pg.Pool,
    private readonly limits: ReportQuotaLimits = KLAVIYO_REPORT_QUOTA,
  ) {}

  /** Takes one request of `account`'s quota, or says when one frees up. */
  async take(account: string, dataflowId: string | null): Promise<QuotaGrant> {
    return withTransaction(this.pool, async (db) => {
      const locked = await this.lockAccount(db, account);
      if (locked.exhaustedUntil !== null) return { granted: false, until: locked.exhaustedUntil };
      const { rows } = await db.query<{ used: string; frees_at: Date | null }>(
        `SELECT count(*) AS used, min(spent_at) + make_interval(secs => $2) AS frees_at
           FROM ${SPENDS} WHERE account = $1 AND spent_at > clock_timestamp() - make_interval(secs => $2)`,
        [account, this.limits.daySeconds],
      );
      const used = Number(rows[0].used);
      if (used >= this.limits.perDay) {
        // The oldest spend of the day leaves it then (plus a second: Klaviyo counted it a little later).
        const until = new Date((rows[0].frees_at as Date).getTime() + 1_000);
        return { granted: false, until };
      }
      const inserted = await db.query<{ id: string }>(
        `INSERT INTO ${SPENDS} (account, spent_at, dataflow_id) VALUES ($1, clock_timestamp(), $2) RETURNING id`,
        [account, dataflowId],
      );
      // Spends a day old count for nothing: forget them now and then.
      await db.query(
        `DELETE FROM ${SPENDS} WHERE account = $1 AND spent_at < clock_timestamp() - make_interval(secs => $2 * 2)`,
        [account, this.limits.daySeconds],
      );
      return { granted: true, id: inserted.rows[0].id };
    });
  }

  /** The request's answer came now: its spend counts from now, as Klaviyo's count of it surely does. */
  async answered(id: string): Promise<void> {
    await this.pool.query(`UPDATE ${SPENDS} SET spent_at = clock_timestamp() WHERE id = $1`, [id]);
  }

  /** Klaviyo said the quota is spent until `until` (a 429's Retry-After): every run of the account waits. */
  async exhaustedUntil(account: string, until: Date): Promise<void> {
    await withTransaction(this.pool, async (db) => {
      await this.lockAccount(db, account);
      await db.query(
        `UPDATE ${ACCOUNTS} SET exhausted_until = GREATEST(COALESCE(exhausted_until, $2), $2) WHERE account = $1`,
        [account, until],
      );
    });
  }

  /** Requests of `account` within the current day, and how many are left. */
  async usage(account: string): Promise<{ used: number; left: number }> {
    const { rows } = await this.pool.query<{ used: string }>(
      `SELECT count(*) AS used FROM ${SPENDS} WHERE account = $1 AND spent_at > clock_timestamp() - make_interval(secs => $2)`,
      [account, this.limits.daySeconds],
    );
    const used = Number(rows[0].used);
    return { used, left: Math.max(0, this.limits.perDay - used) };
  }

  /** Locks the account's row (creating it), clearing an exhaustion that is over. */
  private async lockAccount(db: Queryable, account: string): Promise<{ exhaustedUntil: Date | null }> {
    await db.query(`INSERT INTO ${ACCOUNTS} (account) VALUES ($1) ON CONFLICT (account) DO NOTHING`, [account]);
    const { rows } = await db.query<{ exhausted_until: Date | null }>(
      `SELECT CASE WHEN exhausted_until > clock_timestamp() THEN exhausted_until END AS exhausted_until
         FROM ${ACCOUNTS} WHERE account = $1 FOR UPDATE`,
      [account],
    );
    return { exhaustedUntil: rows[0].exhausted_until };
  }
}
