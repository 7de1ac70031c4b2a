import http from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { startTestEngine, type TestEngine } from '../support/engine';
import { keyFragments, startTestConsole, type TestConsole } from '../support/console';
import { launchBrowser, screenshot, seriousAccessibilityViolations } from '../support/browser';

/**
 * The console with the keyboard alone, behind a token, and under attack from another site, in Chromium.
 */
let engine: TestEngine;
let open: TestConsole;
let guarded: TestConsole;
let browser: Browser;
const NAME = 'KeyboardOnly';
const TOKEN = 'browser-test-console-token-0123456789';

beforeAll(async () => {
  engine = await startTestEngine({ sandbox: { sizes: { profiles: 20, events: 40 } } });
  [open, guarded] = await Promise.all([startTestConsole(engine), startTestConsole(engine, { token: TOKEN })]);
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await open?.close();
  await guarded?.close();
  await engine?.stop();
});

/** What has the keyboard focus: its role-ish tag and the name a person would read. */
async function focused(page: Page): Promise<string> {
  return (await page.evaluate(`(() => {
    const el = document.activeElement;
    if (!el) return '';
    const label = el.getAttribute('aria-label') || (el.labels && el.labels[0] && el.labels[0].textContent) || el.textContent || '';
    return (el.getAttribute('role') || el.tagName.toLowerCase()) + ':' + label.trim().replace(/\\s+/g, ' ');
  })()`)) as string;
}

/**
 * Presses Tab until the focused element's name matches, as a keyboard user would; at most 300 times (the Table
 * Details step has two or three stops for each of its 43 tables).
 */
async function tabTo(page: Page, name: RegExp): Promise<void> {
  for (let i = 0; i < 300; i += 1) {
    if (name.test(await focused(page))) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${name}; focus is on "${await focused(page)}"`);
}

/**
 * Next, with Enter on the focused button, then the wait for the new step's heading to take the focus as the wizard
 * gives it (an effect after paint): Tab pressed before that would start from the old place, and keys typed into a
 * field would go to the heading once it takes the focus.
 */
async function nextStep(page: Page, title: string): Promise<void> {
  await tabTo(page, /^button:Next$/);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: title, exact: true }).and(page.locator(':focus')).waitFor();
}

describe('keyboard only', () => {
  let page: Page;
  beforeAll(async () => {
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  });
  afterAll(async () => page?.close());

  test('the whole New Dataflow wizard is completed without a mouse', async () => {
    await page.goto(`${open.url}/imports`);
    await page.getByRole('heading', { name: 'No dataflows yet' }).waitFor();
    await tabTo(page, /^button:New Dataflow$/);
    await page.keyboard.press('Enter');
    await page.waitForURL('**/imports/new');

    await tabTo(page, /^input:Name$/);
    await page.keyboard.type(NAME);
    await page.getByRole('button', { name: 'Next' }).and(page.locator(':enabled')).waitFor();
    await nextStep(page, 'Connector');

    await tabTo(page, /^radio:.*Klaviyo/);
    await page.keyboard.press('Space');
    await nextStep(page, 'Details');

    await tabTo(page, /^input:Display Name$/);
    await page.keyboard.type('Typed, not clicked');
    await nextStep(page, 'Connect');

    await tabTo(page, /^summary:Advanced: API base URL$/);
    await page.keyboard.press('Enter');
    await tabTo(page, /^input:API base URL$/);
    await page.keyboard.type(engine.sandbox.baseUrl);
    await tabTo(page, /^input:API Key$/);
    await page.keyboard.type(engine.sandbox.keys.readOnly);
    await page.keyboard.press('Enter');
    await page.getByText('Connected').first().waitFor();
    await nextStep(page, 'Table Details');

    await page.getByTestId('table-profiles').waitFor();
    await tabTo(page, /^button:Save$/);
    await page.keyboard.press('Enter');
    await page.waitForURL('**/imports');
    await page.getByTestId(`row-${NAME}`).waitFor();
    expect((await engine.api.get(NAME)).displayName).toBe('Typed, not clicked');
  });

  test('the Actions menu opens, moves and closes with the keyboard, and gives focus back', async () => {
    await tabTo(page, new RegExp(`^button:Actions for ${NAME}$`));
    await page.keyboard.press('Enter');
    await page.getByRole('menu').waitFor();
    expect(await focused(page)).toBe('menuitem:Edit');
    await page.keyboard.press('ArrowDown');
    expect(await focused(page)).toBe('menuitem:Run');
    await page.keyboard.press('Escape');
    await page.getByRole('menu').waitFor({ state: 'detached' });
    expect(await focused(page)).toBe(`button:Actions for ${NAME}`);
  });

  test('the Remove dialog traps focus and Escape cancels it', async () => {
    await page.keyboard.press('Enter');
    await page.getByRole('menu').waitFor();
    for (let i = 0; i < 3; i += 1) await page.keyboard.press('ArrowDown');
    expect(await focused(page)).toBe('menuitem:Remove');
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    for (let i = 0; i < 6; i += 1) {
      await page.keyboard.press('Tab');
      expect(await page.evaluate('!!document.activeElement.closest("[role=dialog]")')).toBe(true);
    }
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect((await engine.api.list()).map((d) => d.name)).toEqual([NAME]);
  });
});

describe('a console behind a token', () => {
  test('the sign-in page is accessible, and signing in keeps no secret where script can read it', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${guarded.url}/imports`);
    await page.waitForURL('**/login');
    expect(await seriousAccessibilityViolations(page)).toEqual([]);
    await page.getByLabel('Console token').fill('wrong-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('That is not the console token.').waitFor();
    await screenshot(page, 'login-refused');
    await page.getByLabel('Console token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL('**/imports');
    await page.getByTestId(`row-${NAME}`).waitFor();

    const cookies = await context.cookies();
    expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite])).toEqual([
      ['dataflow_console_session', true, 'Strict'],
    ]);
    const readable = (await page.evaluate(
      'JSON.stringify([document.cookie, { ...localStorage }, { ...sessionStorage }])',
    )) as string;
    expect(readable).toBe('["",{},{}]');
    const secrets = [TOKEN, ...Object.values(engine.sandbox.keys).flatMap(keyFragments)];
    expect(secrets.filter((s) => readable.includes(s) || JSON.stringify(cookies).includes(s))).toEqual([]);
    await context.close();
  });
});

describe('a hidden tab', () => {
  /** Hides or shows the page as a switched tab does: `document.hidden` and a `visibilitychange` event. */
  const setHidden = (page: Page, hidden: boolean) =>
    page.evaluate(`(() => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => ${hidden} });
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => '${hidden ? 'hidden' : 'visible'}' });
      document.dispatchEvent(new Event('visibilitychange'));
    })()`);

  test('the Imports list stops polling while the tab is hidden and refreshes at once when it is shown', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    // The page's clock is the test's: a minute passes in a call, and nothing is polled behind the test's back.
    await page.clock.install();
    const polls: number[] = [];
    page.on('request', (request) => {
      if (request.method() === 'GET' && new URL(request.url()).pathname === '/api/dataflows') polls.push(Date.now());
    });
    const nextPoll = () =>
      page.waitForResponse((r) => new URL(r.url()).pathname === '/api/dataflows', { timeout: 5000 });
    const loaded = nextPoll();
    await page.goto(`${open.url}/imports`);
    await loaded;
    // Shown, an idle list asks every 10 s.
    const shown = nextPoll();
    await page.clock.runFor(10_500);
    await shown;
    const beforeHiding = polls.length;
    expect(beforeHiding).toBeGreaterThanOrEqual(2);

    await setHidden(page, true);
    await page.clock.runFor(60_000);
    await page.waitForTimeout(500);
    expect(polls.length).toBe(beforeHiding);

    // Shown again: one request at once, without waiting for the clock, and the regular polling again after it.
    const refreshed = nextPoll();
    await setHidden(page, false);
    await refreshed;
    expect(polls.length).toBe(beforeHiding + 1);
    const again = nextPoll();
    await page.clock.runFor(10_500);
    await again;
    expect(polls.length).toBe(beforeHiding + 2);
    await page.close();
  });
});

describe('another site', () => {
  let attacker: http.Server;
  let attackerUrl: string;
  const refused: number[] = [];

  beforeAll(async () => {
    // A page on another site (localhost vs 127.0.0.1: another host) that tries to start a run in the console.
    const target = `${open.url}/api/dataflows/${NAME}/runs`;
    attacker = http.createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><html><body>
<form id="f" method="post" action="${target}" enctype="text/plain"><input name='{"full":true, "x":"' value='"}'></form>
<script>
fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', credentials: 'include', body: '{}' })
  .finally(() => document.getElementById('f').submit());
</script></body></html>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    const address = attacker.address();
    attackerUrl = `http://localhost:${typeof address === 'object' && address ? address.port : 0}/`;
  });
  afterAll(async () => new Promise<void>((resolve) => attacker.close(() => resolve())));

  test('a cross-site POST from a page in the same browser is refused and starts nothing', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    // The console's page first, as a user who has it open in another tab.
    await page.goto(`${open.url}/imports`);
    page.on('response', (response) => {
      if (response.url().includes('/runs')) refused.push(response.status());
    });
    await page.goto(attackerUrl);
    await page.waitForURL(`${open.url}/**`, { timeout: 10_000 }).catch(() => undefined);
    await page.waitForTimeout(500);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((status) => status === 403)).toBe(true);
    expect(await engine.api.running(NAME)).toBeNull();
    expect(await engine.api.history(NAME)).toEqual([]);
    await context.close();
  });
});
