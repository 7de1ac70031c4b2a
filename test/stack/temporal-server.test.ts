import { msToNumber, optionalTsToMs } from '@temporalio/common/lib/time';
import { SEARCH_ATTRIBUTES } from '../../shared/search-attributes';
import { waitFor } from '../../stack/managed-process';
import { DEFAULT_RETENTION, SEARCH_ATTRIBUTE_TYPES, startTemporalServer } from '../../stack/temporal-server';
import { startTestTemporal, type TestTemporal } from '../support/temporal';

describe('the Temporal dev server on a SQLite file', () => {
  let temporal: TestTemporal;

  beforeAll(async () => {
    temporal = await startTestTemporal({ persist: true });
  });
  afterAll(() => temporal?.stop());

  it('registers every search attribute of shared/search-attributes.ts with its type', async () => {
    const connection = await temporal.connection();
    const { customAttributes } = await connection.operatorService.listSearchAttributes({
      namespace: temporal.namespace,
    });
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) {
      expect([name, customAttributes?.[name]]).toEqual([name, SEARCH_ATTRIBUTE_TYPES[type]]);
    }
  });

  it('raises the namespace retention from the default day to 30 days', async () => {
    const connection = await temporal.connection();
    const { config } = await connection.workflowService.describeNamespace({ namespace: temporal.namespace });
    expect(optionalTsToMs(config?.workflowExecutionRetentionTtl)).toBe(msToNumber(DEFAULT_RETENTION));
    expect(msToNumber(DEFAULT_RETENTION)).toBe(30 * 24 * 3600 * 1000);
  });

  it('refuses to start a second server on a port that is in use', async () => {
    const port = Number(temporal.address.split(':')[1]);
    await expect(startTemporalServer({ logFile: '/dev/null', port, ui: false })).rejects.toThrow(
      `port ${port} on 127.0.0.1 is already in use`,
    );
  });

  it('keeps a started workflow in its history across a restart', async () => {
    const client = await temporal.client();
    const workflowId = `survives-restart-${Date.now()}`;
    // Nobody polls this task queue: the workflow just stays Running, which is all this test needs.
    await client.workflow.start('doesNotExist', { taskQueue: 'nobody-polls', workflowId });
    const pidBefore = temporal.server.pid;

    await temporal.restart();

    expect(temporal.server.pid).not.toBe(pidBefore);
    const listed = await waitFor(async () => {
      for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
        return execution.status.name === 'RUNNING';
      }
      return false;
    }, 10_000);
    expect(listed).toBe(true);
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    expect(history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name).toBe('doesNotExist');
  });
});
