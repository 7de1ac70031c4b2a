import fs from 'node:fs';
import path from 'node:path';
import { logTail, startProcess, waitFor, type ManagedProcess } from '../stack/managed-process';
import { projectRoot } from '../stack/project-root';

/**
 * The worker as the product runs it (`tsx worker/main.ts`) in a child process. tsx runs the worker in a
 * node process of its own under the tsx launcher: that grandchild is the one whose memory is measured.
 */
export interface WorkerChild {
  /** The node process running worker/main.ts (not the tsx launcher). */
  readonly workerPid: number;
  readonly logFile: string;
  stop(): Promise<void>;
}

const READY_LINE = 'worker: polling';

/** `cpuProfileDir`: run the worker as `node --cpu-prof --import tsx` instead, writing a CPU profile there on exit. */
export async function startWorkerChild(
  env: NodeJS.ProcessEnv,
  logFile: string,
  cpuProfileDir?: string,
): Promise<WorkerChild> {
  const root = projectRoot();
  const [command, args] = cpuProfileDir
    ? [process.execPath, ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`, '--import', 'tsx', 'worker/main.ts']]
    : [path.join(root, 'node_modules/.bin/tsx'), ['worker/main.ts']];
  const launcher: ManagedProcess = await startProcess(command, args, { cwd: root, env, logFile });
  const stop = async () => {
    await launcher.stop({ signal: 'SIGTERM', timeoutMs: 20_000 });
  };
  try {
    const ready = await waitFor(
      () => !launcher.isRunning() || fs.readFileSync(logFile, 'utf8').includes(READY_LINE),
      120_000,
      200,
    );
    if (!ready || !launcher.isRunning()) {
      throw new Error(`The worker did not start polling. Last lines of ${logFile}:\n${logTail(logFile)}`);
    }
    const workerPid = findWorkerProcess(launcher.pid);
    return { workerPid, logFile, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The descendant of `rootPid` that runs worker/main.ts; the launcher itself when tsx ran it in-process. */
function findWorkerProcess(rootPid: number): number {
  const descendants = descendantsOf(rootPid);
  const worker = descendants.find((pid) => readCmdline(pid).some((arg) => arg.endsWith('worker/main.ts')));
  return worker ?? rootPid;
}

function descendantsOf(rootPid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(entry), Number(fields[1]));
    } catch {
      // The process ended while we looked.
    }
  }
  const found: number[] = [];
  const frontier = [rootPid];
  while (frontier.length > 0) {
    const parent = frontier.shift() as number;
    for (const [pid, ppid] of parentOf) {
      if (ppid === parent) {
        found.push(pid);
        frontier.push(pid);
      }
    }
  }
  return found;
}

function readCmdline(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}
