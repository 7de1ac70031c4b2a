import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Running the embedded Postgres when we are root: Postgres refuses to run as root, so the server runs as another OS
 * user, and what that user cannot reach where it is (binaries in node_modules, a cluster in a `0700` home) goes under
 * a root-owned directory instead.
 */

/** The default `runtimeRoot` of `startEmbeddedPostgres`: root's own and not writable by others, unlike /tmp or /var/tmp. */
export const RUNTIME_ROOT = '/var/lib/dataflows-embedded-postgres';

export interface OsUser {
  uid: number;
  gid: number;
  name: string;
}

/** The non-root account the server runs as when we are root; created like embedded-postgres's `createPostgresUser`. */
export function ensureOsUser(name: string): OsUser {
  const existing = lookupOsUser(name);
  if (existing) return existing;
  try {
    execFileSync('groupadd', ['-f', '--system', name], { stdio: 'pipe' });
    execFileSync('useradd', ['--system', '-g', name, '--no-create-home', '--shell', '/usr/sbin/nologin', name], {
      stdio: 'pipe',
    });
  } catch (err) {
    throw new Error(
      `Postgres cannot run as root, and creating the OS user "${name}" to run it failed (${(err as Error).message.split('\n')[0]}). ` +
        'Create that user, run as a non-root user, or set DATABASE_URL.',
    );
  }
  const created = lookupOsUser(name);
  if (!created) throw new Error(`Created the OS user "${name}" but cannot look it up`);
  return created;
}

function lookupOsUser(name: string): OsUser | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid, name } : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the OS user can enter `dir` (every parent traversable). */
export function canReach(user: OsUser, dir: string): boolean {
  return spawnSync('test', ['-x', dir], { uid: user.uid, gid: user.gid, cwd: '/' }).status === 0;
}

/**
 * `bin` when the server's user can run from it, else a copy of the whole `native/` tree (bin, lib, share: the
 * server finds its libraries and files relative to its binary) under `runtimeRoot`, made once per package version
 * and platform: hard links where the filesystem allows, else copies. Built aside and renamed into place, so a
 * concurrent start or an interrupted one never leaves a half copy in use.
 */
export function reachableBinDir(bin: string, runAs: OsUser, runtimeRoot: string): string {
  if (canReach(runAs, bin)) return bin;
  const native = path.dirname(bin);
  const pkg = JSON.parse(fs.readFileSync(path.join(native, '..', 'package.json'), 'utf8')) as { version?: string };
  const versions = prepareRootDir(runtimeRoot, 'native');
  const target = path.join(versions, `${process.platform}-${process.arch}-${pkg.version ?? 'unknown'}`);
  if (!fs.existsSync(path.join(target, 'bin', 'postgres'))) {
    const staging = fs.mkdtempSync(path.join(versions, '.copy-'));
    try {
      linkOrCopyTree(native, staging);
      fs.chmodSync(staging, 0o755);
      fs.renameSync(staging, target);
    } catch (err) {
      fs.rmSync(staging, { recursive: true, force: true });
      // Another start put the same copy in place first: use it.
      if (!fs.existsSync(path.join(target, 'bin', 'postgres'))) throw err;
    }
  }
  const copied = path.join(target, 'bin');
  if (!canReach(runAs, copied)) {
    throw new Error(
      `Postgres cannot run as root, so it runs as the OS user "${runAs.name}", who cannot reach its binaries in ` +
        `${bin} nor their copy in ${copied}. Make that directory traversable (chmod o+x), or set DATABASE_URL.`,
    );
  }
  return copied;
}

function linkOrCopyTree(from: string, to: string): void {
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) {
      fs.mkdirSync(target, { mode: 0o755 });
      linkOrCopyTree(source, target);
    } else if (entry.isSymbolicLink()) {
      fs.symlinkSync(fs.readlinkSync(source), target);
    } else {
      try {
        fs.linkSync(source, target);
      } catch {
        fs.copyFileSync(source, target);
        fs.chmodSync(target, fs.statSync(source).mode & 0o777);
      }
    }
  }
}

/**
 * `root/...parts`, created `0755` as needed, and checked to be root's and writable by nobody else all the way down
 * (what lands there is run by, or holds the data of, the server): anything else is refused, not used.
 */
export function prepareRootDir(root: string, ...parts: string[]): string {
  let current = path.resolve(root);
  for (const part of ['', ...parts]) {
    current = part ? path.join(current, part) : current;
    fs.mkdirSync(current, { recursive: true, mode: 0o755 });
    const stat = fs.lstatSync(current);
    if (!stat.isDirectory() || stat.uid !== 0 || (stat.mode & 0o022) !== 0) {
      throw new Error(
        `${current} must be a directory of root's that only root can write to (it holds what the embedded Postgres ` +
          'runs); fix or remove it, or set DATABASE_URL.',
      );
    }
    fs.chmodSync(current, 0o755);
  }
  return current;
}

/** One cluster directory per data directory that cannot hold its own. */
export function clusterKey(dir: string): string {
  return `${path.basename(dir).replace(/[^A-Za-z0-9_.-]/g, '_')}-${crypto.createHash('sha256').update(dir).digest('hex').slice(0, 16)}`;
}
