import { z } from 'zod';
import type { Scalar } from '../data/row';

/**
 * Page cursors: opaque to clients (base64url, no padding, so they survive any URL handling), keyset inside:
 * the sort key and index of the last row served, the page number, and a fingerprint of the query so a cursor
 * cannot be replayed against a different filter or sort.
 */
export interface CursorState {
  /** Fingerprint of endpoint, parent, filter and sort. */
  query: string;
  /** The page this cursor opens (2 for the first `next`). */
  page: number;
  /** Sort key of the last row served. */
  key: Scalar;
  /** Index of the last row served. */
  index: number;
}

const payloadSchema = z.object({
  q: z.string(),
  n: z.number().int().min(2),
  k: z.union([z.string(), z.number(), z.boolean(), z.null()]),
  i: z.number().int().min(0),
});

export function encodeCursor(state: CursorState): string {
  const json = JSON.stringify({ q: state.query, n: state.page, k: state.key, i: state.index });
  return Buffer.from(json, 'utf8').toString('base64url');
}

/** The cursor's state, or null when it is not one of ours. */
export function decodeCursor(cursor: string): CursorState | null {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  try {
    const parsed = payloadSchema.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    if (!parsed.success) return null;
    return { query: parsed.data.q, page: parsed.data.n, key: parsed.data.k, index: parsed.data.i };
  } catch {
    return null;
  }
}
