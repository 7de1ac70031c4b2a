import { defineSearchAttributeKey } from '@temporalio/common';

/**
 * Custom search attributes that identify each dataflow operation in Temporal's visibility store:
 * the run history is a visibility query on these. Registered by the local stack at server start.
 */
export const SEARCH_ATTRIBUTES = {
  DataflowName: 'Keyword',
  DataflowOperation: 'Keyword',
  DataflowTrigger: 'Keyword',
  DataflowVersion: 'Int',
  DataflowState: 'Keyword',
} as const;

export const DataflowNameKey = defineSearchAttributeKey('DataflowName', 'KEYWORD');
export const DataflowOperationKey = defineSearchAttributeKey('DataflowOperation', 'KEYWORD');
export const DataflowTriggerKey = defineSearchAttributeKey('DataflowTrigger', 'KEYWORD');
export const DataflowVersionKey = defineSearchAttributeKey('DataflowVersion', 'INT');
/** `NeedsAttention` while a run waits for `retry` or `discard` (the Web UI can filter on it); unset otherwise. */
export const DataflowStateKey = defineSearchAttributeKey('DataflowState', 'KEYWORD');
