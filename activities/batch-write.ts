import type pg from 'pg';
import { saveCheckpoint, type CheckpointUpdate } from '../control-plane/extract-checkpoints';
import { withTransaction } from '../control-plane/postgres';
import { loadEncoded, type CopyTarget, type EncodedRows } from '../warehouse/copy-loader';

/**
 * Writes a batch of a read (its rows, as COPY text) and the checkpoints that account for it in one transaction, so a
 * resumed read neither repeats nor skips a row: what both readers (extract-table.ts on one cursor, extract-slices.ts in
 * slices) do with every batch. Committed without waiting for the WAL flush: a crash loses a batch and its checkpoints
 * together or keeps them together, and the version's own commit (synchronous) flushes every batch before it. An
 * incremental read replaces a row it reads again (the row changed); a full read never reads one twice, so a duplicate
 * there fails.
 */
export async function writeBatch(
  pool: pg.Pool,
  target: CopyTarget,
  batch: EncodedRows,
  checkpoints: readonly CheckpointUpdate[],
  incremental: boolean,
): Promise<void> {
  await withTransaction(
    pool,
    async (db) => {
      await loadEncoded(db, target, batch, { onDuplicate: incremental ? 'replace' : 'fail' });
      for (const checkpoint of checkpoints) await saveCheckpoint(db, checkpoint);
    },
    { asynchronousCommit: true },
  );
}
