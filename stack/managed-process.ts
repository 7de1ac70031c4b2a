import { spawn } from 'node:child_process';
import fs from 'node:fs';

/** How a child process ended. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A long-running child whose output goes to a log file, stoppable in a controlled way. */
export interface ManagedProcess {
  readonly pid: number;
  readonly logFile: string;
  /** Settles when the process has exited, for whatever reason. */
  readonly exited: Promise<ProcessExit>;
  isRunning(): boolean;
  /**
   * Sends `signal`, waits up to `timeoutMs` for the exit, then sends SIGKILL (to the whole process group, which
   * also catches grandchildren such as the node process under tsx).
   * @default signal 'SIGTERM', timeoutMs 15000
   */
  stop(options?: { signal?: NodeJS.Signals; timeoutMs?: number }): Promise<ProcessExit>;
}

export interface StartProcessOptions {
  /** Appended to, never truncated, so the output of earlier runs stays readable. */
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
}

/**
 * Spawns `command` in its own process group, so a Ctrl-C in the terminal reaches only our process, which
 * then stops the children in order instead of all at once.
 */
export async function startProcess(
  command: string,
  args: readonly string[],
  options: StartProcessOptions,
): Promise<ManagedProcess> {
  const fd = fs.openSync(options.logFile, 'a');
  let child;
  try {
    child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      uid: options.uid,
      gid: options.gid,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
  } finally {
    fs.closeSync(fd);
  }
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => reject(new Error(`Could not start ${command}: ${err.message}`)));
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`Could not start ${command}: no process id`);

  let running = true;
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
  });

  return {
    pid,
    logFile: options.logFile,
    exited,
    isRunning: () => running,
    async stop({ signal = 'SIGTERM', timeoutMs = 15_000 } = {}) {
      if (!running) return exited;
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const first = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (first !== 'timeout') return first;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      return exited;
    },
  };
}

/** The last lines of a log file, to put the reason for a failed start into the error message. */
export function logTail(logFile: string, lines = 15): string {
  try {
    const text = fs.readFileSync(logFile, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Whether a process with this id exists (and we may signal it). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Polls `check` every `intervalMs` until it returns true or `timeoutMs` passes. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
