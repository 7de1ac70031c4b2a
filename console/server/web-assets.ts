import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

/** The web app as the console serves it: one script and one stylesheet, built from `console/web/` at start. */
export interface WebAssets {
  script: string;
  stylesheet: string;
}

const WEB_DIR = path.join(__dirname, '..', 'web');

/**
 * The stylesheet is the files of `console/web/styles/`, one concern each, joined in the order of their names: a
 * number leads each name because later parts (the wizard, small screens, the sign-in page) refine rules of earlier
 * ones, so the order is part of the style.
 */
function stylesheet(webDir: string): string {
  const dir = path.join(webDir, 'styles');
  const parts = fs.readdirSync(dir).filter((name) => name.endsWith('.css'));
  return parts
    .sort()
    .map((name) => fs.readFileSync(path.join(dir, name), 'utf8'))
    .join('');
}

/**
 * Bundles `console/web/main.tsx` (Preact) into one script, in memory: about a second at start, no build step to
 * forget, and nothing fetched from anywhere at run time.
 */
export async function buildWebAssets(webDir = WEB_DIR): Promise<WebAssets> {
  const result = await build({
    entryPoints: [path.join(webDir, 'main.tsx')],
    bundle: true,
    write: false,
    format: 'iife',
    target: 'es2020',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    legalComments: 'none',
    logLevel: 'error',
    absWorkingDir: path.join(webDir, '..', '..'),
  });
  return {
    script: result.outputFiles[0].text,
    stylesheet: stylesheet(webDir),
  };
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/** The one page of the web app; the CSRF token rides in a meta tag, which only same-origin script can read. */
export function appPage(csrfToken: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="${escapeHtml(csrfToken)}">
<title>Imports · Dataflow</title>
<link rel="stylesheet" href="/assets/app.css">
<script src="/assets/app.js" defer></script>
</head>
<body>
<div id="app"></div>
<noscript>The Imports console needs JavaScript. The same operations are available from the dataflow CLI.</noscript>
</body>
</html>
`;
}

/** The sign-in page of a console started with a token: a plain form, no script. */
export function loginPage(problem?: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Dataflow</title>
<link rel="stylesheet" href="/assets/app.css">
</head>
<body class="login-body">
<main class="login">
<h1>Sign in to the Imports console</h1>
<p>This console is protected by a token: the value of <code>DATAFLOW_CONSOLE_TOKEN</code> it was started with.</p>
<form method="post" action="/login">
<label for="token">Console token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus${problem ? ' aria-invalid="true" aria-describedby="login-problem"' : ''}>
${problem ? `<p id="login-problem" class="error" role="alert">${escapeHtml(problem)}</p>` : ''}
<button type="submit" class="primary">Sign in</button>
</form>
</main>
</body>
</html>
`;
}
