import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

/**
 * Bundles the workflow code once, ahead of the worker (`npm run build:workflows [out]`): a worker given
 * the file through DATAFLOW_WORKFLOW_BUNDLE starts faster and without webpack's memory.
 */
async function main(): Promise<void> {
  const out = path.resolve(process.argv[2] ?? 'dist/workflow-bundle.js');
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows') });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, code);
  console.log(out);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
