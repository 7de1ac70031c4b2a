import type { Dataset } from '../data/dataset';
import type { ActivityRole } from '../data/message-activity';
import { eventId } from '../ids';

export const ROLE_CODES: Record<ActivityRole, number> = {
  received: 1,
  opened: 2,
  clicked: 3,
  conversion: 4,
  'form-view': 5,
  'form-submit': 6,
};

/**
 * The events a report can count, found once per state of the account (an `advance` or a deletion rebuilds it):
 * for each, its role, metric, message (or form and version), profile and time, in flat arrays. Events deleted from
 * the account are left out, as /api/events leaves them out.
 */
export interface ActivityIndex {
  count: number;
  ordinal: Float64Array;
  role: Uint8Array;
  metric: Int32Array;
  /** Message index into `activity.directory().messages`, or form index. */
  target: Int32Array;
  /** Form version number within the form; 0 for message events. */
  version: Int32Array;
  profile: Int32Array;
  seconds: Float64Array;
  /** An event's `$value`, read when a report first needs it. */
  value(i: number): number;
}

export function activityIndex(ds: Dataset): ActivityIndex {
  return ds.cached('report-activity', () => build(ds));
}

function build(ds: Dataset): ActivityIndex {
  const events = ds.events;
  const activity = ds.activity;
  const hidden = ds.state.deleted('event');
  const rows: number[][] = [[], [], [], [], [], [], []];
  for (let o = 0; o < events.count; o++) {
    const metric = events.metricIndex(o);
    const role = activity.role(metric);
    if (!role) continue;
    let target: number;
    let version = 0;
    if (role.role === 'form-view' || role.role === 'form-submit') {
      const form = activity.formOf(o);
      if (!form) continue;
      target = form.form;
      version = form.version;
    } else {
      target = activity.messageOf(o);
      if (target < 0) continue;
    }
    if (hidden?.has(eventId(ds.seed, o))) continue;
    const columns = [o, ROLE_CODES[role.role], metric, target, version, events.profileIndex(o), events.seconds(o)];
    for (let c = 0; c < columns.length; c++) rows[c].push(columns[c]);
  }
  const values = new Float64Array(rows[0].length).fill(Number.NaN);
  const ordinal = Float64Array.from(rows[0]);
  return {
    count: ordinal.length,
    ordinal,
    role: Uint8Array.from(rows[1]),
    metric: Int32Array.from(rows[2]),
    target: Int32Array.from(rows[3]),
    version: Int32Array.from(rows[4]),
    profile: Int32Array.from(rows[5]),
    seconds: Float64Array.from(rows[6]),
    value(i) {
      if (Number.isNaN(values[i])) {
        const props = events.row(ordinal[i]).attributes?.event_properties as Record<string, unknown> | undefined;
        const value = props?.$value;
        values[i] = typeof value === 'number' ? value : 0;
      }
      return values[i];
    },
  };
}
