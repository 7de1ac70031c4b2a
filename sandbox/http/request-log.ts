/** One request the sandbox answered (admin calls excluded). Never holds the API key. */
export interface RequestLogEntry {
  /** ISO time the request arrived. */
  time: string;
  method: string;
  path: string;
  /** The raw query string, without `?`. */
  query: string;
  /** Catalog table name, or null for an unknown path. */
  table: string | null;
  /** 1-based page number within a read; null when the request never got that far. */
  page: number | null;
  cursor: string | null;
  /** HTTP status; 0 when the connection was reset on purpose. */
  status: number;
  /** Body bytes sent. */
  bytes: number;
  durationMs: number;
  /** The injected fault, if any (`status`, `reset`, `slow`, `truncate`, `malformed`). */
  fault: string | null;
  /** Reporting API requests only: what the body asked for (its `table` is the report type, e.g. `flow-series-report`). */
  report?: ReportLogDetail;
}

/** The parts of a report body a test needs to tell a full read from an incremental one; null where absent. */
export interface ReportLogDetail {
  /** As sent: `{key}` or `{start, end}`. */
  timeframe: unknown;
  filter: string | null;
  interval: string | null;
  groupBy: string[] | null;
  statistics: string[] | null;
}

/**
 * The last `capacity` requests (a ring buffer) plus per-table counters that never wrap, so a long benchmark keeps
 * bounded memory and tests can still count every request.
 */
export class RequestLog {
  private readonly ring: (RequestLogEntry | undefined)[];
  private next = 0;
  private size = 0;
  private readonly perTable = new Map<string, number>();

  constructor(readonly capacity = 10_000) {
    this.ring = new Array(capacity);
  }

  add(entry: RequestLogEntry): void {
    this.ring[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
    const key = entry.table ?? '(unknown)';
    this.perTable.set(key, (this.perTable.get(key) ?? 0) + 1);
  }

  /** Oldest first. */
  entries(): RequestLogEntry[] {
    const out: RequestLogEntry[] = [];
    const start = (this.next - this.size + this.capacity) % this.capacity;
    for (let i = 0; i < this.size; i++) out.push(this.ring[(start + i) % this.capacity] as RequestLogEntry);
    return out;
  }

  /** Requests per table name since the last reset (an unknown path counts as "(unknown)"). */
  counts(): Record<string, number> {
    return Object.fromEntries(this.perTable);
  }

  reset(): void {
    this.ring.fill(undefined);
    this.next = 0;
    this.size = 0;
    this.perTable.clear();
  }
}
