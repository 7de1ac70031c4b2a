/** Temporal's execution statuses and the dataflow's own, in the console's words. */
const LABELS: Record<string, string> = {
  COMPLETED: 'Succeeded',
  FAILED: 'Failed',
  RUNNING: 'Running',
  CANCELED: 'Cancelled',
  CANCELLED: 'Cancelled',
  TERMINATED: 'Terminated',
  TIMED_OUT: 'Timed out',
  CONTINUED_AS_NEW: 'Continued',
  // A run whose tables failed for good, waiting for Retry or Discard: the history's and the dataflow's word for it.
  NEEDS_ATTENTION: 'Needs attention',
  NEEDSATTENTION: 'Needs attention',
};

export function statusLabel(status: string): string {
  return LABELS[status.toUpperCase()] ?? status;
}

function tone(label: string): string {
  switch (label) {
    case 'Succeeded':
      return 'ok';
    case 'Failed':
    case 'Terminated':
    case 'Timed out':
      return 'bad';
    case 'Running':
      return 'run';
    case 'Cancelled':
    case 'Needs attention':
      return 'warn';
    default:
      return 'idle';
  }
}

export function isRunningStatus(status: string): boolean {
  return statusLabel(status) === 'Running';
}

export function StatusPill({ status }: { status: string }) {
  const label = statusLabel(status);
  return <span class={`pill pill-${tone(label)}`}>{label}</span>;
}
