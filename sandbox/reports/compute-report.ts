import { createHash } from 'node:crypto';
import type { Dataset } from '../data/dataset';
import { accountCalendar } from './account-calendar';
import type { ReportEndpoint } from './endpoints';
import { formReport } from './form-figures';
import { messageReport } from './message-figures';
import type { ReportQuery } from './report-request';
import { segmentReport } from './segment-figures';

export interface ReportResult {
  groupings: Record<string, string | null>;
  /** A number per statistic; in a series, one number per bucket. */
  statistics: Record<string, number | number[]>;
}

export interface ComputedReport {
  results: ReportResult[];
  /** Resources the results name, for the answer's relationships (campaigns; flows and flow messages). */
  related: { name: string; type: string; ids: string[] }[];
}

export interface ReportAnswer extends ComputedReport {
  /** Stable for the same question on the same state of the account. */
  id: string;
  /** Series: the start of each bucket, in the account's timezone. */
  dateTimes: string[];
}

/** The figures of a checked report request, from the sandbox account's own events and memberships. */
export function computeReport(ds: Dataset, endpoint: ReportEndpoint, query: ReportQuery): ReportAnswer {
  const computed =
    endpoint.subject === 'campaign' || endpoint.subject === 'flow'
      ? messageReport(ds, endpoint, query)
      : endpoint.subject === 'form'
        ? formReport(ds, endpoint, query)
        : segmentReport(ds, endpoint, query);
  const calendar = accountCalendar();
  const id = createHash('sha256')
    .update(JSON.stringify([endpoint.type, query, ds.state.version, ds.seed]))
    .digest('hex')
    .slice(0, 32);
  return { ...computed, id, dateTimes: query.buckets.map((start) => calendar.iso(start)) };
}
