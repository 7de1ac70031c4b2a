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
  ordinal: Int32Array;
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

/** About 30 bytes per event that counts, built in arrays sized for every event and then cut to those that count. */
function build(ds: Dataset): ActivityIndex {
  const events = ds.events;
  const activity = ds.activity;
  const hidden = ds.state.deleted('event');
  const total = events.count;
  const ordinal = new Int32Array(total);
  const role = new Uint8Array(total);
  const metric = new Int32Array(total);
  const target = new Int32Array(total);
  const version = new Int32Array(total);
  const profile = new Int32Array(total);
  const seconds = new Float64Array(total);
  let n = 0;
  for (let o = 0; o < total; o++) {
    const m = events.metricIndex(o);
    const r = activity.role(m);
    if (!r) continue;
    if (r.role === 'form-view' || r.role === 'form-submit') {
      const form = activity.formOf(o);
      if (!form) continue;
      target[n] = form.form;
      version[n] = form.version;
    } else {
      const message = activity.messageOf(o);
      if (message < 0) continue;
      target[n] = message;
      version[n] = 0;
    }
    if (hidden?.has(eventId(ds.seed, o))) continue;
    ordinal[n] = o;
    role[n] = ROLE_CODES[r.role];
    metric[n] = m;
    profile[n] = events.profileIndex(o);
    seconds[n] = events.seconds(o);
    n++;
  }
  const values = new Map<number, number>();
  const index: ActivityIndex = {
    count: n,
    ordinal: ordinal.slice(0, n),
    role: role.slice(0, n),
    metric: metric.slice(0, n),
    target: target.slice(0, n),
    version: version.slice(0, n),
    profile: profile.slice(0, n),
    seconds: seconds.slice(0, n),
    value(i) {
      let value = values.get(i);
      if (value === undefined) {
        const props = events.row(index.ordinal[i]).attributes?.event_properties as Record<string, unknown> | undefined;
        value = typeof props?.$value === 'number' ? props.$value : 0;
        values.set(i, value);
      }
      return value;
    },
  };
  return index;
}
