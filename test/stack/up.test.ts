import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { isListening } from '../../stack/free-port';
import { isProcessAlive } from '../../stack/managed-process';
import { readStackFile, stackFilePath, writeStackFile } from '../../stack/stack-file';
import { startTemporalServer } from '../../stack/temporal-server';
import { StackAlreadyRunningError, startStack, type Stack } from '../../stack/up';

/** Free ports everywhere, so a stack already running on this machine does not get in the way. */
const testOptions = { temporalPort: 0, uiPort: 0, sandboxPort: 0, worker: false, console: false, log: () => undefined };

describe('startStack', () => {
  let dataDir: string;
  let stack: Stack;

  beforeAll(async () => {
    dataDir = makeDataDir();
    stack = await startStack({ ...testOptions, dataDir });
  });
  afterAll(async () => {
    await stack?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('writes stack.json, readable by its owner only, with what it started', () => {
    expect(readStackFile(dataDir)).toEqual(stack.info);
    expect(fs.statSync(stackFilePath(dataDir)).mode & 0o777).toBe(0o600);
    expect(stack.info).toMatchObject({ pid: process.pid, dataDir, postgres: { embedded: true }, worker: null });
  });

  it('has Temporal, the Web UI and the sandbox listening where stack.json says', async () => {
    const ui = new URL(stack.info.temporal.uiUrl ?? 'http://missing');
    const sandbox = new URL(stack.info.sandbox.baseUrl);
    const [host, port] = stack.info.temporal.address.split(':');
    await expect(
      Promise.all([isListening(Number(port), host), isListening(Number(ui.port)), isListening(Number(sandbox.port))]),
    ).resolves.toEqual([true, true, true]);
  });

  it('has a Postgres that accepts the URL in stack.json', async () => {
    const client = new pg.Client({ connectionString: stack.info.postgres.url });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT current_database() AS db');
      expect(rows).toEqual([{ db: 'dataflows' }]);
    } finally {
      await client.end();
    }
  });

  it('refuses to start a second stack on the same data directory', async () => {
    await expect(startStack({ ...testOptions, dataDir })).rejects.toBeInstanceOf(StackAlreadyRunningError);
  });

  it('restarts Temporal on its address and records the new pid', async () => {
    const before = stack.info.temporal.pid;
    await stack.restartTemporal();
    const [host, port] = stack.info.temporal.address.split(':');
    expect(await isListening(Number(port), host)).toBe(true);
    expect(readStackFile(dataDir)?.temporal.pid).toBe(stack.temporal.pid);
    expect(stack.temporal.pid).not.toBe(before);
  });

  it('stops everything and removes stack.json', async () => {
    const { temporal, postgres } = stack.info;
    await stack.stop();
    expect(fs.existsSync(stackFilePath(dataDir))).toBe(false);
    expect([temporal.pid, postgres.pid].map((pid) => isProcessAlive(pid as number))).toEqual([false, false]);
  });
});

describe('startStack after a stack died without stopping', () => {
  let dataDir: string;
  let orphanPid: number | undefined;
  let stack: Stack;

  beforeAll(async () => {
    dataDir = makeDataDir();
    const orphan = await startTemporalServer({ logFile: path.join(dataDir, 'orphan.log'), port: 0, ui: false });
    orphanPid = orphan.pid;
    const deadPid = spawnSync('true').pid as number;
    writeStackFile(dataDir, {
      pid: deadPid,
      startedAt: new Date().toISOString(),
      dataDir,
      temporal: { address: orphan.address, namespace: 'default', uiUrl: null, pid: orphan.pid ?? null, logFile: '' },
      postgres: { url: 'postgres://nobody@127.0.0.1:1/none', embedded: true, pid: null },
      sandbox: { baseUrl: 'http://127.0.0.1:1', keys: { full: 'x', readOnly: 'x', noProfiles: 'x' } },
      worker: null,
    });
    stack = await startStack({ ...testOptions, dataDir });
  });
  afterAll(async () => {
    await stack?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('stops the Temporal server the dead stack left behind', () => {
    expect(orphanPid).toBeDefined();
    expect(isProcessAlive(orphanPid as number)).toBe(false);
  });

  it('starts and records a stack of its own', () => {
    expect(readStackFile(dataDir)?.pid).toBe(process.pid);
  });
});

function makeDataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dataflows-stack-'));
  // As root the embedded Postgres runs as `postgres`, who must be able to enter the data directory.
  fs.chmodSync(dir, 0o755);
  return dir;
}
