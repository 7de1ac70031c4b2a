import type { Client } from '@temporalio/client';
import { findLeaks, readableTexts, secretForms } from '../engine/secret-scan';

/**
 * Where any of `keys` shows in the namespace's workflow histories and descriptions (payloads decoded)
 * or in `logs` (worker output, CLI output): lines safe to print, empty when nothing leaked.
 */
export async function findKeysInNamespace(
  temporal: Client,
  keys: string[],
  logs: Record<string, string[]> = {},
): Promise<{ leaks: string[]; executions: number }> {
  const texts: string[] = [];
  let executions = 0;
  for await (const execution of temporal.workflow.list()) {
    executions += 1;
    const handle = temporal.workflow.getHandle(execution.workflowId, execution.runId);
    const history = await handle.fetchHistory();
    texts.push(...readableTexts(history), ...readableTexts((await handle.describe()).raw));
  }
  const secrets = keys.flatMap(secretForms);
  return { leaks: findLeaks({ histories: texts, ...logs }, secrets), executions };
}
