import { queryRows } from '../support/database';

/**
 * The report figures a dataflow's raw tables imply, computed in SQL from the events, metrics, campaigns and segment
 * memberships the same run imported (`event_properties` say which message, campaign, flow or form an event belongs
 * to, and `$attributed_*` which message a "Placed Order" is credited to), compared with the seven report tables the
 * run imported. Nothing here uses the engine's or the sandbox's report code. The sandbox account's timezone is
 * America/New_York, whose days the reports and the full read's year (from tomorrow back 365 days) follow.
 */
const TZ = 'America/New_York';

/** Per report table, up to five rows whose figures differ from the raw rows' (expected vs imported); {} when none. */
export async function reportFigureMismatches(
  databaseUrl: string,
  schema: string,
  clock: string,
): Promise<Record<string, unknown[]>> {
  const s = schema;
  // The instants bounding the full read: the start of the day 364 days before today, and the sandbox clock.
  const bounds = `SELECT ((($1::timestamptz AT TIME ZONE '${TZ}')::date - 364)::timestamp AT TIME ZONE '${TZ}') AS start,
                         $1::timestamptz AS now`;
  const events = `SELECT e.profile_id AS profile, m.name AS metric, e.event_properties AS p, e.datetime AS at
                    FROM ${s}.events e JOIN ${s}.metrics m ON m.id = e.metric_id, b
                   WHERE e.datetime >= b.start AND e.datetime <= b.now`;
  /** Message figures of `kind` (campaign or flow), grouped by `extra` columns of the event (e.g. its day). */
  const messageFigures = (kind: 'campaign' | 'flow', extra: string) => `
    SELECT id AS ${kind}_id, message AS ${kind}_message_id ${extra ? ', day' : ''},
           count(*) FILTER (WHERE metric LIKE 'Received %') AS recipients,
           count(*) FILTER (WHERE metric = 'Opened Email') AS opens,
           count(DISTINCT profile) FILTER (WHERE metric = 'Opened Email') AS opens_unique,
           count(*) FILTER (WHERE metric = 'Clicked Email') AS clicks,
           count(DISTINCT profile) FILTER (WHERE metric = 'Clicked Email') AS clicks_unique,
           count(*) FILTER (WHERE credited) AS conversions,
           count(DISTINCT profile) FILTER (WHERE credited) AS conversion_uniques,
           round(coalesce(sum((p->>'$value')::numeric) FILTER (WHERE credited), 0), 2) AS conversion_value
      FROM (SELECT p->>'$${kind}' AS id, p->>'$message' AS message, false AS credited, profile, metric, p ${extra}
              FROM ev WHERE p ? '$${kind}'
               AND metric IN ('Received Email', 'Received SMS', 'Opened Email', 'Clicked Email')
            UNION ALL
            SELECT p->>'$attributed_${kind}', p->>'$attributed_message', true, profile, metric, p ${extra}
              FROM ev WHERE p ? '$attributed_${kind}' AND metric = 'Placed Order') x
     GROUP BY 1, 2 ${extra ? ', 3' : ''}`;
  const day = `, ((at AT TIME ZONE '${TZ}')::date) AS day`;
  const MESSAGE_STATS = [
    'recipients',
    'opens',
    'opens_unique',
    'clicks',
    'clicks_unique',
    'conversions',
    'conversion_uniques',
    'conversion_value',
  ];
  const FORM_STATS = ['viewed_form', 'viewed_form_uniques', 'submits'];
  const formFigures = (extra: string) => `
    SELECT p->>'$form' AS form_id ${extra ? ', day' : ''},
           count(*) FILTER (WHERE metric = 'Active on Site') AS viewed_form,
           count(DISTINCT profile) FILTER (WHERE metric = 'Active on Site') AS viewed_form_uniques,
           count(*) FILTER (WHERE metric = 'Subscribed to List') AS submits
      FROM (SELECT * ${extra} FROM ev) x WHERE p ? '$form' GROUP BY 1 ${extra ? ', 2' : ''}`;
  const reportDay = `(r.date AT TIME ZONE '${TZ}')::date`;
  const checks: Record<string, { expected: string; keys: string[]; stats: string[]; onlyReported?: string }> = {
    // A campaign report holds the campaigns sent within its time frame, each with all its events.
    campaign_message_values: {
      expected: messageFigures('campaign', ''),
      keys: ['campaign_id', 'campaign_message_id'],
      stats: MESSAGE_STATS,
      onlyReported: 'campaign_id',
    },
    flow_message_values: {
      expected: messageFigures('flow', ''),
      keys: ['flow_id', 'flow_message_id'],
      stats: MESSAGE_STATS,
    },
    flow_daily_series: {
      expected: messageFigures('flow', day),
      keys: ['flow_id', 'flow_message_id', 'day'],
      stats: MESSAGE_STATS,
    },
    form_values: { expected: formFigures(''), keys: ['form_id'], stats: FORM_STATS },
    form_daily_series: { expected: formFigures(day), keys: ['form_id', 'day'], stats: FORM_STATS },
  };
  const out: Record<string, unknown[]> = {};
  for (const [table, check] of Object.entries(checks)) {
    const reportKeys = check.keys.map((k) => (k === 'day' ? `${reportDay} AS day` : `r.${k}`)).join(', ');
    const reported = `SELECT ${reportKeys}, ${check.stats.map((c) => `r.${c}`).join(', ')} FROM ${s}.${table} r`;
    const only = check.onlyReported
      ? `WHERE ${check.onlyReported} IN (SELECT ${check.onlyReported} FROM ${s}.${table})`
      : '';
    const differs = check.stats.map((c) => `coalesce(x.${c}, 0)::numeric <> coalesce(r.${c}, 0)::numeric`).join(' OR ');
    const rows = await queryRows(
      databaseUrl,
      `WITH b AS (${bounds}), ev AS (${events}),
            x AS (SELECT * FROM (${check.expected}) e ${only}), r AS (${reported})
       SELECT ${check.keys.map((k) => `coalesce(x.${k}, r.${k}) AS ${k}`).join(', ')},
              json_build_object(${check.stats.map((c) => `'${c}', x.${c}`).join(', ')}) AS expected,
              json_build_object(${check.stats.map((c) => `'${c}', r.${c}`).join(', ')}) AS imported
         FROM x FULL JOIN r USING (${check.keys.join(', ')})
        WHERE ${differs}
        LIMIT 5`,
      [clock],
    );
    if (rows.length > 0) out[table] = rows;
  }

  // Campaigns: the report holds every campaign sent within the year (events or not), and no other.
  const campaigns = await queryRows(
    databaseUrl,
    `WITH b AS (${bounds})
     SELECT c.id, c.send_time, c.id IN (SELECT campaign_id FROM ${s}.campaign_message_values) AS reported
       FROM ${s}.campaigns c, b
      WHERE coalesce(c.send_time >= b.start AND c.send_time <= b.now, false)
            <> (c.id IN (SELECT campaign_id FROM ${s}.campaign_message_values))
      LIMIT 5`,
    [clock],
  );
  if (campaigns.length > 0) out.campaign_message_values_coverage = campaigns;

  // Segments: members by joined_group_at (nobody leaves), the total as of each day's end, the year's additions.
  const members = `SELECT segment_id, joined_group_at AS joined FROM ${s}.segment_memberships`;
  const segmentValues = await queryRows(
    databaseUrl,
    `WITH b AS (${bounds}), m AS (${members}),
          x AS (SELECT r.segment_id,
                       (SELECT count(*) FROM m WHERE m.segment_id = r.segment_id AND m.joined <= b.now) AS total_members,
                       (SELECT count(*) FROM m WHERE m.segment_id = r.segment_id AND m.joined >= b.start
                                                 AND m.joined <= b.now) AS members_added,
                       r.total_members AS t, r.members_added AS a
                  FROM ${s}.segment_values r, b)
     SELECT * FROM x WHERE total_members <> t OR members_added <> a
     UNION ALL
     SELECT s.segment_id, NULL, NULL, NULL, NULL FROM (SELECT DISTINCT segment_id FROM m) s
      WHERE s.segment_id NOT IN (SELECT segment_id FROM ${s}.segment_values)
     LIMIT 5`,
    [clock],
  );
  if (segmentValues.length > 0) out.segment_values = segmentValues;
  const segmentSeries = await queryRows(
    databaseUrl,
    `WITH b AS (${bounds}), m AS (${members}),
          r AS (SELECT segment_id, ${reportDay} AS day, total_members, members_added FROM ${s}.segment_daily_series r),
          x AS (SELECT r.*,
                       (SELECT count(*) FROM m WHERE m.segment_id = r.segment_id AND m.joined <= b.now
                           AND (m.joined AT TIME ZONE '${TZ}')::date <= r.day) AS total_expected,
                       (SELECT count(*) FROM m WHERE m.segment_id = r.segment_id AND m.joined <= b.now
                           AND (m.joined AT TIME ZONE '${TZ}')::date = r.day) AS added_expected
                  FROM r, b)
     SELECT * FROM x WHERE total_members <> total_expected OR members_added <> added_expected LIMIT 5`,
    [clock],
  );
  if (segmentSeries.length > 0) out.segment_daily_series = segmentSeries;
  // Every day of the year from a segment's first member on has its row (a day with no members has none).
  const days = await queryRows<{ segment_id: string; days: string; expected: string }>(
    databaseUrl,
    `WITH b AS (${bounds}), m AS (${members}),
          d AS (SELECT generate_series((b.start AT TIME ZONE '${TZ}')::date, (b.now AT TIME ZONE '${TZ}')::date,
                                       interval '1 day')::date AS day FROM b),
          x AS (SELECT s.segment_id, count(*) FILTER (WHERE EXISTS (
                         SELECT 1 FROM m WHERE m.segment_id = s.segment_id AND m.joined <= b.now
                            AND (m.joined AT TIME ZONE '${TZ}')::date <= d.day)) AS expected
                  FROM (SELECT DISTINCT segment_id FROM m) s, d, b GROUP BY 1)
     SELECT x.segment_id, x.expected, (SELECT count(*) FROM ${s}.segment_daily_series r
                                        WHERE r.segment_id = x.segment_id) AS days
       FROM x WHERE x.expected <> (SELECT count(*) FROM ${s}.segment_daily_series r WHERE r.segment_id = x.segment_id)`,
    [clock],
  );
  if (days.length > 0) out.segment_daily_series_days = days;
  return out;
}
