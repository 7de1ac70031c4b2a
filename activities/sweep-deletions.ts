import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { CatalogTable } from '../klaviyo/catalog';
import type { KlaviyoClient } from '../klaviyo/klaviyo-client';
import { createRowEncoder, type Cell } from '../warehouse/copy-text';
import { quoteIdent } from '../warehouse/identifiers';
import { createRowMapper, type RowContext } from '../warehouse/row-mapping';
import type { TableLayout } from '../warehouse/table-layout';
import type { KeyTable } from '../warehouse/copy-forward';

/** One listing pass of the sweep: a channel, the archived rows of one, or the whole table. */
export interface SweepPass {
  parentId?: string;
  filter?: string;
  context: RowContext;
}

/** Keys are COPYed in batches of this many rows. */
const KEYS_PER_COPY = 10_000;

/**
 * The read of a deletion sweep (policy in deletion-sweep.ts): every key Klaviyo still lists for the table, ids only
 * (`fields[<type>]=id`, the smallest sparse fieldset Klaviyo takes) at the largest page size, COPYed into a
 * temporary table of the caller's transaction that is dropped at its end. Memory holds one batch, whatever the size.
 * @returns the key table (for copyForwardVersion's `keep`) and the requests it took
 */
export async function loadLiveKeys(
  db: pg.ClientBase,
  input: {
    client: KlaviyoClient;
    table: CatalogTable;
    layout: TableLayout;
    passes: readonly SweepPass[];
    signal?: AbortSignal;
  },
): Promise<{ keys: KeyTable; pages: number }> {
  const { layout } = input;
  const columns = layout.columns.filter((c) => layout.primaryKey.includes(c.name));
  const map = createRowMapper({ ...layout, columns });
  const encode = createRowEncoder(columns.map(() => 'text'));
  const name = `sweep_${randomBytes(6).toString('hex')}`;
  const names = columns.map((c) => quoteIdent(c.name));
  await db.query(
    `CREATE TEMPORARY TABLE ${quoteIdent(name)} (${names.map((c) => `${c} text`).join(', ')}) ON COMMIT DROP`,
  );
  const copySql = `COPY pg_temp.${quoteIdent(name)} (${names.join(', ')}) FROM STDIN`;
  const fields = input.table.idsOnly ? undefined : ['id'];
  let batch: Cell[][] = [];
  let pages = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const text = Buffer.from(encode(batch), 'utf8');
    batch = [];
    await pipeline(Readable.from([text], { objectMode: false }), db.query(copyFrom(copySql)));
  };
  for (const pass of input.passes) {
    for await (const page of input.client.pages({
      table: input.table,
      parentId: pass.parentId,
      fields,
      filter: pass.filter,
      signal: input.signal,
    })) {
      pages++;
      for (const resource of page.data) batch.push(map(resource, pass.context));
      if (batch.length >= KEYS_PER_COPY) await flush();
    }
  }
  await flush();
  // A temporary table has no statistics until analysed: the planner needs them to pick a hashed semi-join.
  await db.query(`ANALYZE pg_temp.${quoteIdent(name)}`);
  return { keys: { name, key: columns.map((c) => c.name) }, pages };
}
