// The worker bundles this module: every workflow type it serves.
export { runDataflow, progress, retry, discard } from './run-dataflow';
export { rollbackDataflow } from './rollback-dataflow';
export { removeDataflow } from './remove-dataflow';
