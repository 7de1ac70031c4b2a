import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../stack/project-root';
import { buildOnce, sourceHash as hashSources } from './build-cache';

/**
 * The workflow bundle a worker process runs. Temporal's worker would otherwise bundle the workflow code
 * with webpack inside the worker at every start: seconds, and some hundred MB of peak memory the worker
 * never gives back to the system. Instead the bundle is built once, by a short-lived child process, into
 * a cache named after a hash of everything that goes into it (the workflow and shared sources and the
 * locked dependency versions): a change to any of them builds a new one.
 */

// Found by walking up: the worker runs compiled into node_modules/.cache as well as from the sources.
const ROOT = projectRoot();
/** What the workflow code is made of: it imports only from these directories and from @temporalio. */
const SOURCE_DIRS = ['workflows', 'shared'];

/** The bundle's path: `explicit` (DATAFLOW_WORKFLOW_BUNDLE) as given, else the cached one, built if missing. */
export function workflowBundlePath(options: { explicit?: string; dataDir: string }): string {
  if (options.explicit) {
    if (!fs.existsSync(options.explicit)) {
      throw new Error(
        `DATAFLOW_WORKFLOW_BUNDLE names ${options.explicit}, which does not exist. Build it with ` +
          '`npm run build:workflows <file>`, or unset the variable to let the worker build and cache one.',
      );
    }
    return options.explicit;
  }
  const file = path.join(options.dataDir, 'workflow-bundles', `${sourceHash()}.js`);
  return buildOnce(file, (partial) => {
    const built = spawnSync(
      process.execPath,
      ['--require', 'tsx/cjs', path.join(ROOT, 'worker', 'build-workflow-bundle.ts'), partial],
      { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    if (built.status !== 0 || !fs.existsSync(partial)) {
      throw new Error(`Could not bundle the workflow code:\n${(built.stderr || built.stdout || '').trim()}`);
    }
  });
}

/** A hash of the workflow sources and of the locked dependencies (Temporal's workflow runtime among them). */
export function sourceHash(): string {
  return hashSources(ROOT, { dirs: SOURCE_DIRS, files: ['package-lock.json'], extensions: ['.ts'] });
}
