import { maskApiKey } from '../secrets/api-key';
import type { Dataflow } from '../control-plane/dataflows';

/** A dataflow as every door shows it to a person or a script: its settings and state, the key only masked. */
export interface DataflowSummary {
  name: string;
  displayName: string;
  description: string;
  type: string;
  status: string;
  baseUrl: string;
  /** `pk_…abcd`: the key itself is write-only. */
  apiKey: string;
  tablesCount: number;
  currentVersion: number | null;
  created: Date;
  updated: Date;
  lastRefresh: Date | null;
  lastError: string | null;
  /** When tables refreshed incrementally are swept for rows deleted in Klaviyo, if not cheap. */
  deletionSweep: string;
}

/** The CLI's `--json` and the console's API both answer with this shape. */
export function dataflowSummary(d: Dataflow): DataflowSummary {
  return {
    name: d.name,
    displayName: d.displayName,
    description: d.description,
    type: d.connectorType,
    status: d.status,
    baseUrl: d.baseUrl,
    apiKey: maskApiKey({ hint: d.apiKeyHint }),
    tablesCount: d.tablesCount,
    currentVersion: d.currentVersion,
    created: d.createdAt,
    updated: d.updatedAt,
    lastRefresh: d.lastRefreshAt,
    lastError: d.lastError,
    deletionSweep: d.deletionSweep,
  };
}
