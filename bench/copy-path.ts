import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { getTable } from '../klaviyo/catalog';
import { createDataflow } from '../control-plane/dataflows';
import { clearCheckpoints } from '../control-plane/extract-checkpoints';
import { migrateToLatest } from '../control-plane/migrate';
import { withTransaction } from '../control-plane/postgres';
import { SecretBox } from '../control-plane/secret-box';
import { resolveSelection } from '../control-plane/table-selection';
import { allocateVersion } from '../control-plane/versions';
import { extractTable } from '../activities/extract-table';
import type { KlaviyoClient } from '../klaviyo/klaviyo-client';
import type { KlaviyoPage } from '../klaviyo/paging';
import type { KlaviyoResource } from '../klaviyo/schemas';
import { createRowEncoder } from '../warehouse/copy-text';
import { createRowMapper } from '../warehouse/row-mapping';
import { tableLayout } from '../warehouse/table-layout';
import { createVersionTables } from '../warehouse/staged-tables';

/**
 * The load path alone: extraction (extractTable) fed event pages from memory — mapping, COPY encoding, batched
 * COPYs with their checkpoints — against a bare COPY of the same rows already encoded, into the same kind of table.
 * No HTTP and no Temporal: what the ratio shows is the cost of the engine's own row path.
 */
export const EVENTS = tableLayout(getTable('events'));
const PAGE_ROWS = 1000;
const SCHEMA = 'bench_copy_path';

/** Event-like resources as a Klaviyo page holds them: ids, two relationships, a dozen properties. */
export function eventResources(count: number): KlaviyoResource[] {
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

/** A Klaviyo client that serves `resources` in pages of 1000, each in its own turn of the event loop, as off the network. */
export function memoryClient(resources: KlaviyoResource[]): KlaviyoClient {
  return {
    async *pages(): AsyncGenerator<KlaviyoPage> {
      for (let page = 0; page < resources.length; page += PAGE_ROWS) {
        const next =
          page + PAGE_ROWS < resources.length ? `https://sandbox.test/events?page=${page + PAGE_ROWS}` : null;
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
}

/** The bare COPY: `text` already encoded, streamed in 64 KiB chunks straight into `table`. */
export async function bareCopy(pool: pg.Pool, table: string, text: Buffer): Promise<number> {
  const columns = EVENTS.columns.map((c) => `"${c.name}"`).join(', ');
  const start = process.hrtime.bigint();
  await withTransaction(pool, async (client) => {
    const chunks = Array.from({ length: Math.ceil(text.length / 65536) }, (_, i) =>
      text.subarray(i * 65536, (i + 1) * 65536),
    );
    await pipeline(Readable.from(chunks), client.query(copyFrom(`COPY ${table} (${columns}) FROM STDIN`)));
  });
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** The COPY text of `resources` as the engine maps and encodes them. */
export function copyText(resources: KlaviyoResource[]): Buffer {
  const map = createRowMapper(EVENTS);
  return Buffer.from(createRowEncoder(EVENTS.columns.map((c) => c.type))(resources.map((r) => map(r))), 'utf8');
}

/**
 * A dataflow whose version 1 takes extraction's rows and version 2 the bare COPY's, in `schema` (created, with the
 * control plane migrated, if missing).
 */
export async function prepareCopyPath(pool: pg.Pool, databaseUrl: string, schema: string) {
  await migrateToLatest(databaseUrl);
  const { id: dataflowId } = await createDataflow(pool, SecretBox.fromKey(randomBytes(32)), {
    name: `CopyPath${randomBytes(3).toString('hex')}`,
    // Never used against Klaviyo: the dataflow only owns the versions. Made up at run time, so no key-shaped
    // string is kept in the source.
    apiKey: `pk_${randomBytes(17).toString('hex')}`,
    tables: [],
  });
  for (const runId of ['r1', 'r2']) {
    const { version } = await allocateVersion(pool, {
      dataflowId,
      workflowId: 'wf',
      runId,
      trigger: 'manual',
      tables: [],
    });
    await createVersionTables(pool, { dataflowId, schema, version, tables: [EVENTS] });
  }
  return {
    dataflowId,
    /** Empties both tables and extraction's checkpoints (which would otherwise find the table done). */
    async empty(): Promise<void> {
      await pool.query(`TRUNCATE ${schema}.events__v1, ${schema}.events__v2`);
      await clearCheckpoints(pool, { dataflowId, version: 1 });
    },
    /** Extraction of `resources` into version 1: seconds, and the rows it says it loaded. */
    async extract(resources: KlaviyoResource[]): Promise<{ seconds: number; loaded: number }> {
      // On one cursor (DATAFLOW_MAX_SLICES=1): slices are about keeping requests in flight, and there are none here.
      const maxSlices = process.env.DATAFLOW_MAX_SLICES;
      process.env.DATAFLOW_MAX_SLICES = '1';
      try {
        const start = process.hrtime.bigint();
        const summary = await extractTable({
          pool,
          client: memoryClient(resources),
          dataflowId,
          schema,
          version: 1,
          selection: resolveSelection([{ table: 'events' }])[0],
        });
        return { seconds: Number(process.hrtime.bigint() - start) / 1e9, loaded: summary.rows };
      } finally {
        if (maxSlices === undefined) delete process.env.DATAFLOW_MAX_SLICES;
        else process.env.DATAFLOW_MAX_SLICES = maxSlices;
      }
    },
  };
}

export interface CopyPathFigures {
  rows: number;
  megabytes: number;
  rounds: number;
  /** Best of the rounds, each. */
  extractionSeconds: number;
  bareSeconds: number;
  /** Rows in version 1 after the last round, counted in Postgres, and how many equal the bare COPY's, value for value. */
  loaded: number;
  same: number;
}

/**
 * Both paths `rounds` times, interleaved, on emptied tables; the best of each counts (one shot is at the mercy of
 * whatever else the machine does).
 */
export async function measureCopyPath(databaseUrl: string, rows: number, rounds = 3): Promise<CopyPathFigures> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 8 });
  try {
    const path = await prepareCopyPath(pool, databaseUrl, SCHEMA);
    const resources = eventResources(rows);
    const text = copyText(resources);
    let extractionSeconds = Infinity;
    let bareSeconds = Infinity;
    for (let round = 0; round < rounds; round++) {
      await path.empty();
      bareSeconds = Math.min(bareSeconds, await bareCopy(pool, `${SCHEMA}.events__v2`, text));
      extractionSeconds = Math.min(extractionSeconds, (await path.extract(resources)).seconds);
    }
    const { rows: counted } = await pool.query<{ loaded: number; same: number }>(
      `SELECT (SELECT count(*)::int FROM ${SCHEMA}.events__v1) AS loaded,
              (SELECT count(*)::int FROM ${SCHEMA}.events__v1 a JOIN ${SCHEMA}.events__v2 b USING (id)
                WHERE a.event_properties = b.event_properties AND a.datetime = b.datetime) AS same`,
    );
    return { rows, megabytes: text.length / 1e6, rounds, extractionSeconds, bareSeconds, ...counted[0] };
  } finally {
    await pool.end();
  }
}

/** The bench's COPY PATH section; no ratio when extraction did not load exactly the bare COPY's rows. */
export function formatCopyPath(f: CopyPathFigures): string {
  const rate = (seconds: number) => `${Math.round(f.rows / seconds).toLocaleString('en-US')} rows/s`;
  const ratio = f.bareSeconds / f.extractionSeconds;
  return [
    `COPY PATH — ${f.rows.toLocaleString('en-US')} event rows from memory, ${f.megabytes.toFixed(1)} MB of COPY text, best of ${f.rounds}`,
    `extraction (map, encode, batched COPY, checkpoints): ${f.extractionSeconds.toFixed(2)} s, ${rate(f.extractionSeconds)}`,
    `bare COPY of the same text:                          ${f.bareSeconds.toFixed(2)} s, ${rate(f.bareSeconds)}`,
    f.loaded !== f.rows || f.same !== f.rows
      ? `RATIO not given: extraction left ${f.loaded} rows, ${f.same} equal to the bare COPY's, of ${f.rows}`
      : // A row-by-row path or a lost overlap of encoding and COPY falls well below a third; 0.42-0.52 was usual.
        `RATIO bare / extraction seconds = ${ratio.toFixed(2)}  (target ≥ 0.33: ${ratio >= 0.33 ? 'met' : 'NOT met'})`,
  ].join('\n');
}
