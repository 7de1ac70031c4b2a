import type { RequestLogEntry } from '../../sandbox/server';

/**
 * The faults that fired, by kind, as the sandbox's request log recorded them: each entry names its injected fault
 * (`status`, `reset`, `slow`, `truncate`, `malformed`), and a 429 of the sandbox's own rate limits has none.
 */
export function firedFaults(entries: readonly RequestLogEntry[]): Record<string, number> {
  const fired: Record<string, number> = {};
  const count = (kind: string) => (fired[kind] = (fired[kind] ?? 0) + 1);
  for (const entry of entries) {
    if (entry.fault === 'status') count(`HTTP ${entry.status}`);
    else if (entry.fault) count(entry.fault);
    else if (entry.status === 429) count('429');
  }
  return fired;
}

/** Kinds of which fewer than the minimum fired, as `kind: fired < minimum`; empty when every minimum was met. */
export function unmetMinimums(fired: Record<string, number>, minimums: Record<string, number>): string[] {
  return Object.entries(minimums)
    .filter(([kind, least]) => sumOf(fired, kind) < least)
    .map(([kind, least]) => `${kind}: ${sumOf(fired, kind)} < ${least}`);
}

/** `HTTP 5xx` sums every 5xx status; any other kind is counted as it is. */
function sumOf(fired: Record<string, number>, kind: string): number {
  if (kind !== 'HTTP 5xx') return fired[kind] ?? 0;
  return Object.entries(fired)
    .filter(([k]) => /^HTTP 5\d\d$/.test(k))
    .reduce((n, [, v]) => n + v, 0);
}
