import type { PageStrings } from '../klaviyo/page-check';
import { encodeRows, type CopyTarget } from './copy-loader';
import { createRowMapper, type JsonApiResource, type RowContext } from './row-mapping';
import type { TableLayout } from './table-layout';

/** A page's resources as COPY text for one target table (see {@link pageEncoder}). */
export type PageEncoder = (resources: readonly JsonApiResource[], strings: PageStrings, context?: RowContext) => Buffer;

/**
 * The one place a page's rows become COPY text: whether the page was parsed as text or as UTF-8 byte strings
 * (klaviyo/byte-strings.ts) picks the row mapper and the COPY text's encoding together, so the readers of a table
 * (one cursor or slices) hand over a page and its `strings` and never choose between the two themselves.
 */
export function pageEncoder(target: CopyTarget, layout: TableLayout): PageEncoder {
  const mappers = { text: createRowMapper(layout), bytes: createRowMapper(layout, 'bytes') };
  return (resources, strings, context = {}) => {
    const map = mappers[strings];
    return encodeRows(
      target,
      resources.map((resource) => map(resource, context)),
      strings,
    );
  };
}
