import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { getTable } from '../../activities/klaviyo/catalog';
import { createDataflow } from '../../activities/control-plane/dataflows';
import { withTransaction } from '../../activities/control-plane/postgres';
import { SecretBox } from '../../activities/control-plane/secret-box';
import { clearCheckpoints } from '../../activities/control-plane/extract-checkpoints';
import { allocateVersion } from '../../activities/control-plane/versions';
import { resolveSelection } from '../../activities/control-plane/table-selection';
import { extractTable } from '../../activities/extract-table';
import type { KlaviyoClient, KlaviyoPage } from '../../activities/klaviyo/klaviyo-client';
import type { KlaviyoResource } from '../../activities/klaviyo/schemas';
import { createRowEncoder } from '../../activities/warehouse/copy-text';
import { createRowMapper } from '../../activities/warehouse/row-mapping';
import { tableLayout } from '../../activities/warehouse/table-layout';
import { createVersionTables } from '../../activities/warehouse/versioned-tables';
import { createScratchDatabase, type ScratchDatabase } from '../control-plane/scratch-database';

const ROWS = 100_000;
const PAGE_ROWS = 1000;
const ROUNDS = 3;
const EVENTS = tableLayout(getTable('events'));

/** Event-like resources as a Klaviyo page holds them: ids, two relationships, a dozen properties. */
function events(count: number): KlaviyoResource[] {
  return Array.from({ length: count }, (_, i) => ({
    type: 'event',
    id: `4A${i.toString(36).padStart(24, '0')}`,
    attributes: {
      timestamp: 1_700_000_000 + i,
      datetime: new Date((1_700_000_000 + i) * 1000).toISOString(),
      uuid: `0b1c2d3e-${i.toString(16).padStart(4, '0')}-4000-8000-000000000000`,
      event_properties: {
        $value: (i % 1000) / 10,
        $event_id: `order-${i}`,
        $extra: { source: 'web', campaign: i % 7 === 0 ? null : `c${i % 13}` },
        OrderId: String(i),
        Categories: ['shoes', 'sale'],
        ItemNames: [`Item "${i}"`, 'Other\titem'],
        Brands: ['Acme'],
        DiscountCode: i % 3 === 0 ? 'WELCOME10' : '',
      },
    },
    relationships: {
      profile: { data: { type: 'profile', id: `01H${(i % 5000).toString(36).padStart(23, '0')}` } },
      metric: { data: { type: 'metric', id: `M${i % 20}` } },
    },
  }));
}

describe('COPY throughput', () => {
  let db: ScratchDatabase;
  let dataflowId: string;

  beforeAll(async () => {
    db = await createScratchDatabase('wh');
    ({ id: dataflowId } = await createDataflow(db.pool, SecretBox.fromKey(randomBytes(32)), {
      name: 'Throughput',
      apiKey: 'pk_abcdefghijklmnopqrstuvwxyz01234567',
      tables: [],
    }));
    // Version 1 is extraction's (its checkpoints need the version's row); version 2 takes the bare COPY.
    for (const run of ['r1', 'r2']) {
      const { version } = await allocateVersion(db.pool, {
        dataflowId,
        workflowId: 'wf',
        runId: run,
        trigger: 'manual',
        tables: [],
      });
      await createVersionTables(db.pool, { dataflowId, schema: 'throughput', version, tables: [EVENTS] });
    }
  });
  afterAll(async () => {
    await db.drop();
  });

  test('mapping, encoding and loading 100k event-like rows as extraction does keeps at least a third of the speed of a bare COPY of the same text', async () => {
    const resources = events(ROWS);
    const bareMap = createRowMapper(EVENTS);
    const text = createRowEncoder(EVENTS.columns.map((c) => c.type))(resources.map((r) => bareMap(r)));
    const bytes = Buffer.from(text, 'utf8');
    const columns = EVENTS.columns.map((c) => `"${c.name}"`).join(', ');

    /** The bare COPY: text already encoded, streamed straight into the same kind of table. */
    async function bare(): Promise<number> {
      const start = process.hrtime.bigint();
      await withTransaction(db.pool, async (client) => {
        const chunks = Array.from({ length: Math.ceil(bytes.length / 65536) }, (_, i) =>
          bytes.subarray(i * 65536, (i + 1) * 65536),
        );
        await pipeline(
          Readable.from(chunks),
          client.query(copyFrom(`COPY throughput.events__v2 (${columns}) FROM STDIN`)),
        );
      });
      return Number(process.hrtime.bigint() - start) / 1e9;
    }

    /**
     * The real path: extraction itself, fed pages of 1000 from memory. Each page is mapped and encoded on
     * arrival and batches are COPYed, with their checkpoints, while the next pages are encoded.
     */
    async function real(): Promise<{ seconds: number; loaded: number }> {
      const pages = {
        async *pages(): AsyncGenerator<KlaviyoPage> {
          for (let page = 0; page < ROWS; page += PAGE_ROWS) {
            const next = page + PAGE_ROWS < ROWS ? `https://sandbox.test/events?page=${page + PAGE_ROWS}` : null;
            // A page arrives in its own turn of the event loop, as off the network, so writes progress meanwhile.
            await new Promise(setImmediate);
            yield {
              data: resources.slice(page, page + PAGE_ROWS),
              included: [],
              url: '',
              nextUrl: next,
              bytes: 0,
              strings: 'text',
            };
          }
        },
        // No answer, so no Klaviyo clock: extraction falls back to its own.
        serverTime: () => undefined,
      } as unknown as KlaviyoClient;
      const start = process.hrtime.bigint();
      const summary = await extractTable({
        pool: db.pool,
        client: pages,
        dataflowId,
        schema: 'throughput',
        version: 1,
        selection: resolveSelection([{ table: 'events' }])[0],
      });
      return { seconds: Number(process.hrtime.bigint() - start) / 1e9, loaded: summary.rows };
    }

    // One shot of each is at the mercy of whatever else the machine does (CI runs Temporal, Postgres and
    // jest on 2 cores). Each path runs three times, interleaved, on emptied tables; the best of each counts.
    let bareSeconds = Infinity;
    let seconds = Infinity;
    let loaded = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // Emptied tables, and no checkpoint: extraction would otherwise find the table done.
      await db.pool.query('TRUNCATE throughput.events__v1, throughput.events__v2');
      await clearCheckpoints(db.pool, { dataflowId, version: 1 });
      bareSeconds = Math.min(bareSeconds, await bare());
      const run = await real();
      seconds = Math.min(seconds, run.seconds);
      loaded = run.loaded;
    }

    const { rows } = await db.pool.query(
      `SELECT (SELECT count(*)::int FROM throughput.events__v1) AS loaded,
              (SELECT count(*)::int FROM throughput.events__v1 a JOIN throughput.events__v2 b USING (id)
                WHERE a.event_properties = b.event_properties AND a.datetime = b.datetime) AS same`,
    );
    const ratio = bareSeconds / seconds;
    console.log(
      `COPY throughput (${ROWS} event rows, ${(bytes.length / 1e6).toFixed(1)} MB of COPY text, best of ${ROUNDS}): ` +
        `extraction's path ${Math.round(ROWS / seconds)} rows/s (${seconds.toFixed(2)} s), ` +
        `bare COPY ${Math.round(ROWS / bareSeconds)} rows/s (${bareSeconds.toFixed(2)} s), ratio ${ratio.toFixed(2)}`,
    );
    expect(loaded).toBe(ROWS);
    expect(rows[0]).toEqual({ loaded: ROWS, same: ROWS });
    // Measured 0.42-0.52 one shot on an idle 2-core machine, 0.29 once one shot under CI's load; a third
    // catches a real regression (e.g. a row-by-row path), and best-of-three keeps it from catching noise.
    expect(ratio).toBeGreaterThan(0.33);
  });
});
