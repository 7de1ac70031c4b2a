import { randomUUID } from 'node:crypto';
import { deleteDataflow } from '../../control-plane/dataflows';
import { DataflowBusyError, DataflowNotFoundError } from '../../control-plane/errors';
import { acquireOperationLock, getOperationLock, releaseOperationLock } from '../../control-plane/operation-locks';
import { createScratchDatabase, type ScratchDatabase } from './scratch-database';

describe('operation locks', () => {
  let db: ScratchDatabase;

  beforeAll(async () => {
    db = await createScratchDatabase('cp');
  });
  afterAll(async () => {
    await db.drop();
  });

  const newDataflow = async () => (await db.newDataflow('Locked')).id;

  test('a second workflow is refused with a busy error naming the operation and its holder', async () => {
    const dataflowId = await newDataflow();
    await acquireOperationLock(db.pool, { dataflowId, workflowId: 'wf-run', operation: 'run' });
    const error = await acquireOperationLock(db.pool, {
      dataflowId,
      workflowId: 'wf-rollback',
      operation: 'rollback',
    }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(DataflowBusyError);
    expect(error).toMatchObject({ type: 'DataflowBusy', operation: 'run', workflowId: 'wf-run' });
    expect((error as Error).message).toMatch(
      /^Dataflow "Locked\d+" is busy: a run \(workflow wf-run\) has been in progress since /,
    );
  });

  test('the holder acquiring again succeeds and keeps its start time (a retried activity)', async () => {
    const dataflowId = await newDataflow();
    const first = await acquireOperationLock(db.pool, { dataflowId, workflowId: 'wf-1', operation: 'run' });
    const again = await acquireOperationLock(db.pool, { dataflowId, workflowId: 'wf-1', operation: 'run' });
    expect(again).toEqual(first);
  });

  test('a release by another workflow leaves the lock where it is', async () => {
    const dataflowId = await newDataflow();
    await acquireOperationLock(db.pool, { dataflowId, workflowId: 'wf-holder', operation: 'remove' });
    await expect(releaseOperationLock(db.pool, { dataflowId, workflowId: 'wf-other' })).resolves.toBe(false);
    await expect(getOperationLock(db.pool, dataflowId)).resolves.toMatchObject({ workflowId: 'wf-holder' });
  });

  test('after the holder releases, another workflow can take the lock', async () => {
    const dataflowId = await newDataflow();
    await acquireOperationLock(db.pool, { dataflowId, workflowId: 'wf-a', operation: 'run' });
    await expect(releaseOperationLock(db.pool, { dataflowId, workflowId: 'wf-a' })).resolves.toBe(true);
    await expect(
      acquireOperationLock(db.pool, { dataflowId, workflowId: 'wf-b', operation: 'rollback' }),
    ).resolves.toMatchObject({ workflowId: 'wf-b', operation: 'rollback' });
  });

  test('of many workflows racing for the lock exactly one gets it', async () => {
    const dataflowId = await newDataflow();
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        acquireOperationLock(db.pool, { dataflowId, workflowId: `wf-${i}`, operation: 'run' }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof DataflowBusyError)).toHaveLength(5);
  });

  test('locking a dataflow that does not exist is a not-found error', async () => {
    await expect(
      acquireOperationLock(db.pool, { dataflowId: randomUUID(), workflowId: 'wf', operation: 'run' }),
    ).rejects.toThrow(DataflowNotFoundError);
  });

  test('the lock goes away with its dataflow', async () => {
    const dataflowId = await newDataflow();
    await acquireOperationLock(db.pool, { dataflowId, workflowId: 'wf-remove', operation: 'remove' });
    await deleteDataflow(db.pool, dataflowId);
    await expect(getOperationLock(db.pool, dataflowId)).resolves.toBeUndefined();
  });
});
