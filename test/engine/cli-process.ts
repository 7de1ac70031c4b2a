import { spawn } from 'node:child_process';
import path from 'node:path';

/** What one `dataflow` command printed, and how it exited. */
export interface CliOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

const ROOT = path.resolve(__dirname, '../..');

/**
 * Runs the real CLI, `node bin/dataflow.js <args>`, as a user would: the key only in `KLAVIYO_API_KEY`
 * (`apiKey`) or piped to `--api-key-stdin` (`stdin`).
 */
export function runCli(
  env: NodeJS.ProcessEnv,
  args: string[],
  options: { apiKey?: string; stdin?: string } = {},
): Promise<CliOutcome> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...env };
    delete childEnv.KLAVIYO_API_KEY;
    if (options.apiKey !== undefined) childEnv.KLAVIYO_API_KEY = options.apiKey;
    const child = spawn(process.execPath, ['bin/dataflow.js', ...args], {
      cwd: ROOT,
      env: childEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}
