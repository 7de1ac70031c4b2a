import type { Dataset } from '../data/dataset';
import type { ComputedReport, ReportResult } from './compute-report';
import type { ReportEndpoint } from './endpoints';
import { passes } from './groupings';
import type { ReportQuery } from './report-request';

/**
 * Segment figures, from the members each segment lists at /api/segments/{id}/profiles: a member was added at its
 * `joined_group_at`, and nobody leaves a segment in the sandbox. `total_members` counts the members joined before
 * the end of the time frame (of the bucket, in a series; never later than the sandbox clock), `members_added` those
 * joined within it, `net_members_changed` their difference with `members_removed` (always 0).
 */
export function segmentReport(ds: Dataset, endpoint: ReportEndpoint, query: ReportQuery): ComputedReport {
  const series = endpoint.shape === 'series';
  const { startSec, endSec } = query.range;
  const nowSec = ds.state.clockSec;
  const windows = series
    ? query.buckets.map((start, k) => ({
        start: Math.max(start, startSec),
        end: Math.min(query.buckets[k + 1] ?? endSec, endSec),
      }))
    : [{ start: startSec, end: endSec }];
  const hidden = ds.state.deleted('segment');
  const results: ReportResult[] = [];
  for (let g = 0; g < ds.sizes.segments; g++) {
    const id = ds.groups.id('segment', g);
    if (hidden?.has(id) || !passes({ segment_id: id }, query.conditions)) continue;
    const joined = joinedSeconds(ds, g);
    const perWindow = windows.map(({ start, end }) => {
      const until = Math.min(end, nowSec + 1);
      const total = countBefore(joined, until);
      const added = Math.max(0, total - countBefore(joined, start));
      return { members_added: added, members_removed: 0, net_members_changed: added, total_members: total };
    });
    const statistics = Object.fromEntries(
      query.statistics.map((name) => [
        name,
        series ? perWindow.map((s) => s[name as keyof typeof s]) : perWindow[0][name as keyof (typeof perWindow)[0]],
      ]),
    );
    results.push({ groupings: { segment_id: id }, statistics });
  }
  return { results, related: [] };
}

/** The members' joining times, ascending (the membership listing is in joining order). */
function joinedSeconds(ds: Dataset, segment: number): Float64Array {
  return ds.cached(`report-segment-joined:${segment}`, () => {
    const source = ds.source('segment_memberships', segment);
    const key = source.key?.('joined_group_at');
    const out = new Float64Array(source.count);
    for (let j = 0; j < source.count; j++) {
      out[j] = key ? Number(key(j)) : Date.parse(String(source.row(j).attributes?.joined_group_at)) / 1000;
    }
    return out.sort();
  });
}

/** How many of the sorted times are before `at`. */
function countBefore(sorted: Float64Array, at: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
