import { readPositiveInteger } from '../shared/env-number';

/** The worker's settings for sliced reads (extract-slices.ts), from its environment. */
export interface SliceSettings {
  /** Memory the slices of every sliced read of the worker process hold in pages, together. @default 96 MB (`DATAFLOW_SLICE_MEMORY_MB`) */
  memoryBytes: number;
  /** @default 40 (`DATAFLOW_MAX_SLICES`); 1 reads on one cursor */
  maxSlices: number;
}

export function readSliceSettings(env: NodeJS.ProcessEnv = process.env): SliceSettings {
  return {
    memoryBytes: readPositiveInteger(env, 'DATAFLOW_SLICE_MEMORY_MB', 96) * 1024 * 1024,
    maxSlices: readPositiveInteger(env, 'DATAFLOW_MAX_SLICES', 40),
  };
}
