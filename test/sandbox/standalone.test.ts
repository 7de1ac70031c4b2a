import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { startSandbox } from '../../sandbox/server';

const root = path.resolve(__dirname, '../..');
let child: ChildProcessWithoutNullStreams | undefined;

afterEach(async () => {
  if (child && child.exitCode === null && child.pid !== undefined) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    // npm starts tsx, which starts node: signal the whole process group the test started.
    process.kill(-child.pid, 'SIGTERM');
    await exited;
  }
  child = undefined;
});

/** Starts `npm run sandbox` and resolves with the first stdout line. `--silent` keeps npm's own banner off stdout. */
function startStandalone(args: string[]): Promise<string> {
  const proc = spawn('npm', ['run', '--silent', 'sandbox', '--', ...args], { cwd: root, detached: true });
  child = proc;
  let stderr = '';
  proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout });
    lines.once('line', (line) => resolve(line));
    proc.once('exit', (code) => reject(new Error(`sandbox exited with ${code}: ${stderr}`)));
  });
}

test('npm run sandbox prints one JSON line with the base URL and seed-derived keys, then serves requests', async () => {
  const line = await startStandalone([
    '--port',
    '0',
    '--seed',
    '9',
    '--profiles',
    '20',
    '--events',
    '50',
    '--no-rate-limits',
  ]);
  const info = JSON.parse(line) as { baseUrl: string; keys: { full: string; readOnly: string; noProfiles: string } };
  expect(Object.keys(info)).toEqual(['baseUrl', 'keys']);
  expect(info.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

  const inProcess = await startSandbox({ seed: 9, sizes: { profiles: 1, events: 1 } });
  const expectedKeys = inProcess.keys;
  await inProcess.close();
  expect(info.keys).toEqual(expectedKeys);

  const response = await fetch(`${info.baseUrl}/api/profiles?page[size]=100`, {
    headers: { Authorization: `Klaviyo-API-Key ${info.keys.full}`, revision: '2026-07-15' },
  });
  expect(response.status).toBe(200);
  expect(((await response.json()) as { data: unknown[] }).data).toHaveLength(20);
  for (let i = 0; i < 5; i++) {
    const accounts = await fetch(`${info.baseUrl}/api/accounts`, {
      headers: { Authorization: `Klaviyo-API-Key ${info.keys.full}`, revision: '2026-07-15' },
    });
    expect(accounts.status).toBe(200); // --no-rate-limits: XS tier would allow one per second
  }
}, 60_000);

test('--rate-scale scales the limits of the standalone sandbox', async () => {
  const line = await startStandalone(['--seed', '9', '--profiles', '5', '--events', '5', '--rate-scale', '0.04']);
  const info = JSON.parse(line) as { baseUrl: string; keys: { full: string } };
  const headers = { Authorization: `Klaviyo-API-Key ${info.keys.full}`, revision: '2026-07-15' };
  const first = await fetch(`${info.baseUrl}/api/lists`, { headers });
  expect(first.headers.get('ratelimit-limit')).toBe('30');
}, 60_000);
