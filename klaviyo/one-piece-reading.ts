import type { CatalogTable } from './catalog';

/** The reading options of a catalog table that are a list endpoint's: how rows are paged, filtered and sorted. */
export type ListReading = Pick<
  CatalogTable,
  | 'parent'
  | 'idsOnly'
  | 'paged'
  | 'pageSize'
  | 'incremental'
  | 'lateArrivalHours'
  | 'requiredFilter'
  | 'hiddenUnlessFiltered'
  | 'slice'
  | 'filters'
  | 'sorts'
>;

/**
 * Those options for what Klaviyo answers in one piece rather than as a list (a report, a single object): no parent,
 * no paging nor page size, no change cursor, no required or hidden-row filter, no slices, filters nor sorts.
 */
export const ONE_PIECE_READING: Readonly<ListReading> = Object.freeze({
  parent: null,
  idsOnly: false,
  paged: false,
  pageSize: null,
  incremental: null,
  lateArrivalHours: null,
  requiredFilter: null,
  hiddenUnlessFiltered: null,
  slice: null,
  filters: {},
  sorts: [],
});
