/** The worker's settings for sliced reads (extract-slices.ts), from its environment. */
export interface SliceSettings {
  /** Memory the slices of every sliced read of the worker process hold in pages, together. @default 80 MB (`DATAFLOW_SLICE_MEMORY_MB`) */
  memoryBytes: number;
  /** @default 32 (`DATAFLOW_MAX_SLICES`); 1 reads on one cursor */
  maxSlices: number;
}

export function readSliceSettings(env: NodeJS.ProcessEnv = process.env): SliceSettings {
  const number = (name: string, fallback: number) => {
    const text = env[name]?.trim();
    if (!text) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`${name} must be a whole number, 1 or more, not "${text}".`);
    return value;
  };
  return {
    memoryBytes: number('DATAFLOW_SLICE_MEMORY_MB', 80) * 1024 * 1024,
    maxSlices: number('DATAFLOW_MAX_SLICES', 32),
  };
}
