/**
 * Callers waiting for a rate permit, first come first served; a caller whose signal aborts leaves the queue and its
 * promise rejects with the signal's reason. Both budgets (the process-local one in rate-budget.ts and the leased one
 * in leased-rate-budget.ts) queue their callers here and decide only when the next one may go.
 */
interface Waiter<T> {
  resolve: (value: T) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class WaiterQueue<T> {
  private readonly waiters: Waiter<T>[] = [];

  /** `onLeave` runs after an aborted caller left the queue (e.g. so the next one is reconsidered). */
  constructor(private readonly onLeave?: () => void) {}

  get length(): number {
    return this.waiters.length;
  }

  /** Queues a caller; rejects at once if `signal` is already aborted. */
  wait(signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        resolve,
        signal,
        onAbort: () => {
          const index = this.waiters.indexOf(waiter);
          if (index >= 0) this.waiters.splice(index, 1);
          reject(abortReason(signal));
          this.onLeave?.();
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Hands `grant()` to the oldest caller; false (and `grant` not called) when nobody waits. */
  resolveNext(grant: () => T): boolean {
    const waiter = this.waiters.shift();
    if (!waiter) return false;
    waiter.signal?.removeEventListener('abort', waiter.onAbort);
    waiter.resolve(grant());
    return true;
  }
}

function abortReason(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new Error('The operation was aborted');
}
