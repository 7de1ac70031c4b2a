import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { CATALOG } from '../../klaviyo/catalog';
import { DEMO_DATAFLOW } from '../../client/demo';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { launchBrowser, screenshot, seriousAccessibilityViolations } from '../support/browser';

/**
 * `npm run demo` as the README tells a new user: it prints the console's URL, and that page, opened in Chromium,
 * shows KlaviyoDemo Succeeded with its Tables Count and Last Refresh. `--stay` keeps the demo's stack up for the
 * browser; Ctrl-C (SIGINT) stops it.
 */
const root = path.resolve(__dirname, '..', '..');
let dataDir: string;
let database: TestDatabase;
let demo: ChildProcess;
let output = '';
let browser: Browser;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dataflows-demo-console-'));
  fs.chmodSync(dataDir, 0o755);
  database = await createTestDatabase({ prefix: 'democonsole' });
  const env: NodeJS.ProcessEnv = { ...process.env, DATAFLOW_DATA_DIR: dataDir, DATABASE_URL: database.url };
  for (const key of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_UI_URL', 'DATAFLOW_MASTER_KEY'])
    delete env[key];
  demo = spawn(
    path.join(root, 'node_modules', '.bin', 'tsx'),
    ['client/demo.ts', '--stay', '--profiles', '60', '--events', '400'],
    { cwd: root, env },
  );
  demo.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  demo.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const deadline = Date.now() + 150_000;
  while (!output.includes('The stack stays up')) {
    if (demo.exitCode !== null || Date.now() > deadline) throw new Error(`the demo did not come up:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  browser = await launchBrowser();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (demo && demo.exitCode === null) {
    const exited = new Promise((resolve) => demo.once('exit', resolve));
    demo.kill('SIGINT');
    await exited;
  }
  await database?.drop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

test('the demo prints the console’s URL next to the Temporal Web UI’s', () => {
  expect(output).toMatch(/^ {2}Console {3}http:\/\/127\.0\.0\.1:\d+\/imports/m);
  expect(output).toMatch(/^ {2}Web UI {4}http:\/\/127\.0\.0\.1:\d+/m);
  expect(output).toMatch(/In the Imports console \(http:\/\/127\.0\.0\.1:\d+\/imports\)/);
});

test('the console shows KlaviyoDemo Succeeded with its Tables Count and Last Refresh', async () => {
  const url = /In the Imports console \((http:\/\/[^)]+)\)/.exec(output)![1];
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(url);
  const status = page.getByTestId(`status-${DEMO_DATAFLOW}`);
  await status.getByText('Succeeded', { exact: true }).waitFor();
  expect(await page.getByTestId(`tables-${DEMO_DATAFLOW}`).textContent()).toBe(String(CATALOG.length));
  const refresh = page.getByTestId(`refresh-${DEMO_DATAFLOW}`);
  expect(await refresh.textContent()).not.toBe('Never');
  // Local time shown, UTC on hover.
  expect(await refresh.locator('time').getAttribute('title')).toMatch(/UTC|Z$/);
  await screenshot(page, 'demo-imports');
  expect(await seriousAccessibilityViolations(page)).toEqual([]);

  // The same list on a phone: nothing overflows the viewport but the table's own scroller.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await status.getByText('Succeeded', { exact: true }).waitFor();
  expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
  await screenshot(page, 'demo-imports-phone');
  await page.close();
});
