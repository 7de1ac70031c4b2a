import {
  clearCheckpoints,
  getCheckpoint,
  listCheckpoints,
  saveCheckpoint,
} from '../../control-plane/extract-checkpoints';
import { allocateVersion, markVersionsEnded } from '../../control-plane/versions';
import { createScratchDatabase, type ScratchDatabase } from './scratch-database';

describe('versions and checkpoints', () => {
  let db: ScratchDatabase;

  beforeAll(async () => {
    db = await createScratchDatabase('cp');
  });
  afterAll(async () => {
    await db.drop();
  });

  const newDataflow = async () => (await db.newDataflow('Versioned')).id;
  const allocate = (dataflowId: string, runId: string) =>
    allocateVersion(db.pool, { dataflowId, workflowId: 'wf', runId, trigger: 'manual', tables: ['events'] });

  test('concurrent runs get distinct, consecutive version numbers', async () => {
    const dataflowId = await newDataflow();
    const versions = await Promise.all(Array.from({ length: 10 }, (_, i) => allocate(dataflowId, `run-${i}`)));
    expect(versions.map((v) => v.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  test('a retried allocation of the same run gets the same version back', async () => {
    const dataflowId = await newDataflow();
    const first = await allocate(dataflowId, 'run-a');
    const retried = await allocate(dataflowId, 'run-a');
    expect(first).toMatchObject({ version: 1, reused: false, state: 'staging', tables: ['events'] });
    expect(retried).toMatchObject({ version: 1, reused: true });
  });

  test('the same run allocating twice at the same moment still gets one version', async () => {
    const dataflowId = await newDataflow();
    const [a, b] = await Promise.all([allocate(dataflowId, 'run-x'), allocate(dataflowId, 'run-x')]);
    expect(a.version).toBe(b.version);
    expect(await allocate(dataflowId, 'run-y')).toMatchObject({ version: 2 });
  });

  test('a discarded version number is never handed out again', async () => {
    const dataflowId = await newDataflow();
    const first = await allocate(dataflowId, 'run-1');
    await markVersionsEnded(db.pool, { dataflowId, versions: [first.version], state: 'discarded' });
    expect((await allocate(dataflowId, 'run-2')).version).toBe(first.version + 1);
  });

  test('a checkpoint is saved, replaced and read back per table part', async () => {
    const dataflowId = await newDataflow();
    const { version } = await allocate(dataflowId, 'run');
    const base = { dataflowId, version, table: 'list_memberships', done: false };
    await saveCheckpoint(db.pool, { ...base, part: 'L1', nextUrl: 'https://x/?page[cursor]=a', rows: 100, pages: 1 });
    await saveCheckpoint(db.pool, {
      ...base,
      part: 'L1',
      nextUrl: 'https://x/?page[cursor]=b',
      rows: 200,
      pages: 2,
      state: { since: 't' },
    });
    await saveCheckpoint(db.pool, { ...base, part: 'L2', nextUrl: null, rows: 5, pages: 1, done: true });
    expect(await getCheckpoint(db.pool, { dataflowId, version, table: 'list_memberships', part: 'L1' })).toMatchObject({
      nextUrl: 'https://x/?page[cursor]=b',
      rows: 200,
      pages: 2,
      done: false,
      state: { since: 't' },
    });
    expect((await listCheckpoints(db.pool, { dataflowId, version })).map((c) => [c.part, c.done])).toEqual([
      ['L1', false],
      ['L2', true],
    ]);
  });

  test('a table read in one pass has its checkpoint under the empty part', async () => {
    const dataflowId = await newDataflow();
    const { version } = await allocate(dataflowId, 'run');
    await saveCheckpoint(db.pool, {
      dataflowId,
      version,
      table: 'events',
      nextUrl: 'u',
      rows: 1,
      pages: 1,
      done: false,
    });
    await expect(getCheckpoint(db.pool, { dataflowId, version, table: 'events' })).resolves.toMatchObject({ part: '' });
  });

  test('clearing the checkpoints of a version removes them all', async () => {
    const dataflowId = await newDataflow();
    const { version } = await allocate(dataflowId, 'run');
    await saveCheckpoint(db.pool, {
      dataflowId,
      version,
      table: 'events',
      nextUrl: 'u',
      rows: 1,
      pages: 1,
      done: false,
    });
    await saveCheckpoint(db.pool, {
      dataflowId,
      version,
      table: 'profiles',
      nextUrl: 'u',
      rows: 1,
      pages: 1,
      done: false,
    });
    await expect(clearCheckpoints(db.pool, { dataflowId, version })).resolves.toBe(2);
    await expect(listCheckpoints(db.pool, { dataflowId, version })).resolves.toEqual([]);
  });
});
