import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Client as PgClient } from 'pg';
import { validateDataflowName } from '../../control-plane/dataflow-name';
import { startTestEngine, type TestEngine } from '../support/engine';
import { keyFragments, startTestConsole, type TestConsole } from '../support/console';
import { launchBrowser, screenshot, seriousAccessibilityViolations } from '../support/browser';

/**
 * The whole product in a real browser, as a user goes through it: New Dataflow (bad names, a wrong key, a key
 * without profiles:read, fields narrowed, Save), Run with live progress to Succeeded, a failing run's Description
 * in Run History, Rollback, Remove with its confirmation. Each page is screenshotted (test-artifacts/console/)
 * and scanned with axe-core; every answer, page and browser storage is scanned for the key.
 */
let engine: TestEngine;
let consoleServer: TestConsole;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Everything the browser received or held, for the key scan at the end. */
const seen: string[] = [];
const accessibility: Record<string, unknown[]> = {};
const NAME = 'Journey';

beforeAll(async () => {
  engine = await startTestEngine({
    sandbox: { sizes: { profiles: 200, events: 1200, lists: 2, segments: 2, campaigns: 2, flows: 2, tags: 2 } },
  });
  consoleServer = await startTestConsole(engine);
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.on('response', (response) => {
    response.text().then(
      (text) => seen.push(`${response.url()}\n${JSON.stringify(response.headers())}\n${text}`),
      () => undefined,
    );
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await consoleServer?.close();
  await engine?.stop();
});

/** A page as the user sees it: screenshot, axe scan, and its HTML and storage kept for the key scan. */
async function look(name: string): Promise<void> {
  await screenshot(page, name);
  accessibility[name] = await seriousAccessibilityViolations(page);
  seen.push(await page.content());
  seen.push(
    (await page.evaluate(
      'JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie })',
    )) as string,
  );
  seen.push(JSON.stringify(await context.cookies()));
}

function ruleWords(name: string): string {
  try {
    validateDataflowName(name);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`${name} is a valid name`);
}

async function openActions(name: string, item: string): Promise<void> {
  await page.getByRole('button', { name: `Actions for ${name}` }).click();
  await page.getByRole('menuitem', { name: item, exact: true }).click();
}

async function schemaExists(schema: string): Promise<boolean> {
  const client = new PgClient({ connectionString: engine.database.url });
  await client.connect();
  try {
    return (await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rows.length > 0;
  } finally {
    await client.end();
  }
}

test('the Imports list starts empty and says what to do', async () => {
  await page.goto(`${consoleServer.url}/imports`);
  await page.getByRole('heading', { name: 'No dataflows yet' }).waitFor();
  await look('imports-empty');
});

test('the wizard refuses bad names with the rule’s words, then takes a good one', async () => {
  await page.getByRole('button', { name: 'New Dataflow' }).first().click();
  await page.waitForURL('**/imports/new');
  const name = page.getByRole('textbox', { name: 'Name' });
  for (const bad of ['9lives', 'has space', 'dash-ed']) {
    await name.fill(bad);
    await page.getByText(ruleWords(bad)).waitFor();
    expect(await page.getByRole('button', { name: 'Next' }).isDisabled()).toBe(true);
  }
  await look('new-dataflow-name');
  await name.fill(NAME);
  await page.getByRole('button', { name: 'Next' }).and(page.locator(':enabled')).click();
});

test('the connector step offers Klaviyo under All and Marketing, and the details step takes a display name', async () => {
  await page.getByRole('tab', { name: 'Marketing' }).click();
  await page.getByRole('radio', { name: /Klaviyo/ }).click();
  await look('new-dataflow-connector');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('textbox', { name: 'Display Name' }).fill('Journey store');
  await page.getByRole('textbox', { name: 'Description' }).fill('Driven by the browser test');
  await page.getByRole('button', { name: 'Next' }).click();
});

test('a wrong key is refused at Connect in Klaviyo’s words', async () => {
  await page.getByText('Advanced: API base URL').click();
  await page.getByRole('textbox', { name: 'API base URL' }).fill(engine.sandbox.baseUrl);
  await page.getByLabel('API Key', { exact: true }).fill('pk_0123456789abcdef0123456789abcdef01');
  await page.getByRole('button', { name: 'Connect' }).click();
  await page
    .getByRole('alert')
    .getByText(/Klaviyo rejected the API key/)
    .waitFor();
  await look('new-dataflow-wrong-key');
});

test('a key without profiles:read shows profiles unreadable with the missing scope', async () => {
  await page.getByLabel('API Key', { exact: true }).fill(engine.sandbox.keys.noProfiles);
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.getByText('Connected').first().waitFor();
  await page.getByRole('button', { name: 'Next' }).click();
  const profiles = page.getByTestId('table-profiles');
  await profiles.getByText('profiles:read').waitFor();
  expect(await page.getByRole('checkbox', { name: 'Select profiles' }).isDisabled()).toBe(true);
  await look('new-dataflow-tables');
});

test('tables and fields are narrowed, Save lists the row', async () => {
  await page.getByRole('button', { name: 'Select no tables' }).click();
  for (const table of ['events', 'metrics', 'lists']) {
    await page.getByRole('checkbox', { name: `Select ${table}` }).check();
  }
  await page.getByRole('button', { name: 'Fields of events' }).click();
  await page.getByRole('button', { name: 'Select none' }).click();
  for (const field of ['datetime', 'uuid'])
    await page.getByRole('checkbox', { name: new RegExp(`^${field}\\b`) }).check();
  await look('new-dataflow-fields');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL('**/imports');
  await page.getByTestId(`row-${NAME}`).waitFor();
  expect(await page.getByTestId(`tables-${NAME}`).textContent()).toBe('3');
  expect(await page.getByTestId(`refresh-${NAME}`).textContent()).toBe('Never');
  const saved = await engine.api.tables(NAME);
  expect(saved.find((t) => t.name === 'events')?.selectedFields.sort()).toEqual(['datetime', 'uuid']);
});

test('Run shows live progress and ends Succeeded with Tables Count and Last Refresh', async () => {
  // Slow answers for the first pages of events, so that the run is seen running.
  engine.sandbox.setFaults({ rules: [{ table: 'events', kind: 'slow', delayMs: 1500, times: 3 }] });
  try {
    await openActions(NAME, 'Run');
    const status = page.getByTestId(`status-${NAME}`);
    await status.getByText('Running', { exact: true }).waitFor({ timeout: 20_000 });
    await look('imports-running');
    await status.getByText('Succeeded').waitFor({ timeout: 60_000 });
  } finally {
    engine.sandbox.setFaults({});
  }
  expect(await page.getByTestId(`tables-${NAME}`).textContent()).toBe('3');
  expect(await page.getByTestId(`refresh-${NAME}`).textContent()).not.toBe('Never');
  await look('imports-succeeded');
}, 90_000);

test('the dataflow page shows its entities and previews one from the live version', async () => {
  await page.getByRole('link', { name: NAME, exact: true }).click();
  await page.getByTestId('entity-events').waitFor();
  expect(await page.getByTestId('entity-events').textContent()).toContain('1,200');
  await page.getByRole('button', { name: 'Preview events' }).click();
  await page.getByRole('region', { name: 'Rows of events' }).waitFor();
  expect(await page.getByRole('region', { name: 'Rows of events' }).locator('tbody tr').count()).toBe(50);
  await look('dataflow-page');
});

test('a failing run shows its Description in Run History', async () => {
  engine.sandbox.setFaults({ rules: [{ table: 'metrics', kind: 'status', status: 400 }] });
  try {
    await page.goto(`${consoleServer.url}/imports`);
    await openActions(NAME, 'Run');
    await page.getByTestId(`status-${NAME}`).getByText('Failed').waitFor({ timeout: 60_000 });
  } finally {
    engine.sandbox.setFaults({});
  }
  await openActions(NAME, 'Run History');
  await page.waitForURL(`**/imports/${NAME}/history`);
  const description = page.getByTestId('history-description').first();
  await description.getByText(/metrics/).waitFor();
  expect(await page.getByTestId('history-row').count()).toBe(2);
  await look('run-history');
}, 90_000);

test('Rollback, after a second good run, goes back one version', async () => {
  await page.goto(`${consoleServer.url}/imports`);
  await openActions(NAME, 'Run');
  await page.getByTestId(`status-${NAME}`).getByText('Succeeded').waitFor({ timeout: 60_000 });
  await openActions(NAME, 'Rollback');
  const dialog = page.getByRole('dialog');
  await look('rollback-dialog');
  await dialog.getByRole('button', { name: 'Roll back' }).click();
  await page.getByText(/rolled back from version 2 to 1/).waitFor();
  expect((await engine.api.entities(NAME)).every((e) => e.version === 1)).toBe(true);
}, 90_000);

test('the Edit and Schedule pages show the dataflow’s settings, the key only masked', async () => {
  await openActions(NAME, 'Edit');
  await page.waitForURL(`**/imports/${NAME}/edit`);
  await page.getByRole('textbox', { name: 'Display Name' }).waitFor();
  expect(await page.getByRole('textbox', { name: 'Display Name' }).inputValue()).toBe('Journey store');
  await look('edit');
  await page.getByRole('button', { name: 'Next' }).click();
  await page
    .getByText(`pk_…${engine.sandbox.keys.noProfiles.slice(-4)}`)
    .first()
    .waitFor();
  await look('edit-key');
  await page.goto(`${consoleServer.url}/imports/${NAME}/schedule`);
  await page.getByRole('heading', { level: 1 }).waitFor();
  await look('schedule');
});

test('Remove asks for confirmation, then leaves no schema behind', async () => {
  await page.goto(`${consoleServer.url}/imports`);
  await openActions(NAME, 'Remove');
  const dialog = page.getByRole('dialog');
  await dialog.getByText(/Every table of the dataflow is deleted/).waitFor();
  await look('remove-dialog');
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await page.getByText(new RegExp(`${NAME} removed: \\d+ tables dropped`)).waitFor();
  await page
    .getByTestId(`row-${NAME}`)
    .waitFor({ state: 'detached', timeout: 15_000 })
    .catch(async (err: unknown) => {
      await screenshot(page, 'remove-failed');
      throw err;
    });
  expect(await schemaExists(NAME.toLowerCase())).toBe(false);
});

test('no page has a serious or critical accessibility violation', () => {
  expect(Object.keys(accessibility).length).toBeGreaterThanOrEqual(12);
  expect(Object.fromEntries(Object.entries(accessibility).filter(([, v]) => v.length > 0))).toEqual({});
});

test('no response, page, storage or cookie held any part of a key', () => {
  const fragments = Object.values(engine.sandbox.keys).flatMap(keyFragments);
  // The positive control: the scan reads what the browser received (the masked key is there).
  expect(seen.some((text) => text.includes(`pk_…${engine.sandbox.keys.noProfiles.slice(-4)}`))).toBe(true);
  expect(seen.filter((text) => fragments.some((f) => text.includes(f))).map((text) => text.slice(0, 200))).toEqual([]);
});
