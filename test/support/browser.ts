import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Where the browser tests leave their screenshots: kept after the run, ignored by git. */
export const SCREENSHOT_DIR = path.resolve(__dirname, '..', '..', 'test-artifacts', 'console');

/**
 * Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it), driven by playwright-core: Playwright's own
 * browser download needs an internet this machine does not have. `CHROMIUM_PATH` names another binary.
 */
export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  const found = candidates.find((candidate): candidate is string => !!candidate && fs.existsSync(candidate));
  if (!found) {
    throw new Error('No Chromium for the browser tests: `apt-get install -y chromium`, or set CHROMIUM_PATH.');
  }
  return found;
}

export async function launchBrowser(): Promise<Browser> {
  // As root (CI) Chromium refuses its sandbox; the pages it opens are the test's own console on loopback.
  return chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
}

/** A full-page screenshot of what the user sees now, as `test-artifacts/console/<name>.png`. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** axe-core's WCAG 2 A/AA rules over the page as it is now; the violations of impact serious or critical. */
export async function seriousAccessibilityViolations(
  page: Page,
): Promise<Array<{ id: string; impact: string; help: string; targets: string[] }>> {
  const source = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  // Evaluated through the DevTools protocol, which the page's CSP (script-src 'self') does not govern.
  await page.evaluate(source);
  // A string, not a function: this file compiles without the DOM's types, and the code runs in the page.
  const violations = (await page.evaluate(`axe
    .run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa'] } })
    .then((result) => result.violations)`)) as Array<{
    id: string;
    impact: string;
    help: string;
    nodes: Array<{ target: string[] }>;
  }>;
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
}
