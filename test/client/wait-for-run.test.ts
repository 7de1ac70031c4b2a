import type { ApiContext } from '../../client/api/context';
import { waitForRun } from '../../client/api/operations';

/**
 * waitForRun's progress queries, against a fake Temporal handle: the client adds an abort listener to the signal a
 * call runs under and never removes it, so the queries of a long run must not share one signal.
 */
describe('waitForRun', () => {
  jest.setTimeout(30_000);

  test('each progress query runs under its own signal, and the one still out at the end is cancelled', async () => {
    const signals: AbortSignal[] = [];
    let queries = 0;
    let finish: () => void = () => undefined;
    const result = new Promise<unknown>(
      (resolve) => (finish = () => resolve({ dataflow: 'D', version: 1, tables: [] })),
    );
    const handle = {
      result: () => result,
      query: async () => {
        queries++;
        if (queries === 3) finish();
        // The third query is still out when the run ends: it answers only when cancelled.
        if (queries >= 3) await new Promise((resolve) => signals.at(-1)?.addEventListener('abort', resolve));
        return { phase: 'extracting', tables: [] };
      },
    };
    const ctx = {
      temporal: { workflow: { getHandle: () => handle } },
      connection: {
        withAbortSignal: <T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> => {
          signals.push(signal);
          return fn();
        },
      },
    } as unknown as ApiContext;

    await waitForRun(ctx, { workflowId: 'w', runId: 'r', url: 'http://ui' });

    // One signal for the result's long poll, one for each query.
    const querySignals = signals.slice(1);
    expect(querySignals).toHaveLength(3);
    expect(new Set(querySignals).size).toBe(3);
    expect(querySignals[2].aborted).toBe(true);
    expect(signals[0].aborted).toBe(false);
  });
});
