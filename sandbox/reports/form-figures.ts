import type { Dataset } from '../data/dataset';
import { activityIndex, ROLE_CODES } from './activity-index';
import type { ComputedReport, ReportResult } from './compute-report';
import type { ReportEndpoint } from './endpoints';
import { groupingsOf, passes, ratio, type Grouping } from './groupings';
import type { ReportQuery } from './report-request';
import { bucketOf } from './timeframe';

/**
 * Form figures, from the events that carry `$form` and `$form_version` (see data/message-activity.ts): views are
 * "Active on Site" events, submits "Subscribed to List" events, `_uniques` distinct profiles, counted by the time of
 * each event. Every view qualifies and every form has one step, so the qualified and step figures repeat the form's;
 * nobody closes a form in the sandbox. `submit_rate` is submits per view.
 */

interface Tally {
  views: number;
  submits: number;
  viewers: Set<number>;
  submitters: Set<number>;
}

export function formStatistics(t: Tally): Record<string, number> {
  return {
    closed_form: 0,
    closed_form_uniques: 0,
    qualified_form: t.views,
    qualified_form_uniques: t.viewers.size,
    submit_rate: ratio(t.submits, t.views),
    submits: t.submits,
    submitted_form_step: t.submits,
    submitted_form_step_uniques: t.submitters.size,
    viewed_form: t.views,
    viewed_form_step: t.views,
    viewed_form_step_uniques: t.viewers.size,
    viewed_form_uniques: t.viewers.size,
  };
}

export function formReport(ds: Dataset, endpoint: ReportEndpoint, query: ReportQuery): ComputedReport {
  const series = endpoint.shape === 'series';
  const bucketCount = series ? query.buckets.length : 1;
  const { startSec, endSec } = query.range;
  const nowSec = ds.state.clockSec;
  const hiddenForms = ds.state.deleted('form');
  const groups = new Map<string, { grouping: Grouping; tallies: Tally[] }>();
  const unitGroups = new Map<string, { grouping: Grouping; tallies: Tally[] }[] | null>();

  const index = activityIndex(ds);
  for (let i = 0; i < index.count; i++) {
    const role = index.role[i];
    if (role !== ROLE_CODES['form-view'] && role !== ROLE_CODES['form-submit']) continue;
    const at = index.seconds[i];
    if (at < startSec || at >= endSec || at > nowSec) continue;
    const bucket = series ? bucketOf(query.buckets, at) : 0;
    if (bucket < 0) continue;
    const form = index.target[i];
    const version = index.version[i];
    const unitKey = `${form}:${version}`;
    let list = unitGroups.get(unitKey);
    if (list === undefined) {
      const unit = { form_id: ds.content.formId(form), form_version_id: ds.content.versionId(form, version) };
      list =
        hiddenForms?.has(unit.form_id) || !passes(unit, query.conditions)
          ? null
          : groupingsOf(unit, query.groupBy).map((grouping) => {
              let group = groups.get(grouping.key);
              if (!group) {
                group = { grouping, tallies: Array.from({ length: bucketCount }, tally) };
                groups.set(grouping.key, group);
              }
              return group;
            });
      unitGroups.set(unitKey, list);
    }
    if (!list) continue;
    const profile = index.profile[i];
    for (const group of list) {
      const t = group.tallies[bucket];
      if (role === ROLE_CODES['form-view']) {
        t.views += 1;
        t.viewers.add(profile);
      } else {
        t.submits += 1;
        t.submitters.add(profile);
      }
    }
  }

  const results: ReportResult[] = [...groups.values()]
    .sort((a, b) => (a.grouping.key < b.grouping.key ? -1 : a.grouping.key > b.grouping.key ? 1 : 0))
    .map((group) => {
      const perBucket = group.tallies.map(formStatistics);
      const statistics = Object.fromEntries(
        query.statistics.map((name) => [name, series ? perBucket.map((s) => s[name]) : perBucket[0][name]]),
      );
      return { groupings: group.grouping.groupings, statistics };
    });
  return { results, related: [] };
}

function tally(): Tally {
  return { views: 0, submits: 0, viewers: new Set(), submitters: new Set() };
}
