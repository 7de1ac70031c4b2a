import { bareCopy, copyText, eventResources, prepareCopyPath } from '../../bench/copy-path';
import { createScratchDatabase, type ScratchDatabase } from '../control-plane/scratch-database';

/**
 * Extraction's load path (mapping, encoding, batched COPYs with their checkpoints, fed pages from memory) leaves
 * exactly the rows a bare COPY of the same text leaves, value for value. How fast it is against that bare COPY is a
 * measurement, not a test: `npm run bench` prints it (COPY PATH), best of three on 100k rows.
 */
const ROWS = 20_000;
const SCHEMA = 'copy_path';

let db: ScratchDatabase;

beforeAll(async () => {
  db = await createScratchDatabase('wh');
});
afterAll(async () => {
  await db.drop();
});

test('extraction of 20k event-like rows loads the same rows and values as a bare COPY of the same text', async () => {
  const path = await prepareCopyPath(db.pool, db.url, SCHEMA);
  const resources = eventResources(ROWS);
  await path.empty();
  await bareCopy(db.pool, `${SCHEMA}.events__v2`, copyText(resources));
  const { loaded } = await path.extract(resources);
  const { rows } = await db.pool.query(
    `SELECT (SELECT count(*)::int FROM ${SCHEMA}.events__v1) AS loaded,
            (SELECT count(DISTINCT id)::int FROM ${SCHEMA}.events__v1) AS ids,
            (SELECT count(*)::int FROM ${SCHEMA}.events__v1 a JOIN ${SCHEMA}.events__v2 b USING (id)
              WHERE (to_jsonb(a) - '_extracted_at' - '_version') = (to_jsonb(b) - '_extracted_at' - '_version')) AS same`,
  );
  expect(rows[0]).toEqual({ loaded: ROWS, ids: ROWS, same: ROWS });
  expect(loaded).toBe(ROWS);
});
