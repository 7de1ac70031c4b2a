import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';

/**
 * The Klaviyo sandbox in a child process (`sandbox/main.ts`), driven through its admin API. Volume tests use it so
 * that the server's work runs on its own core and outside jest's module sandbox, and so that the test process's
 * RSS is the client's alone.
 */
export interface SandboxProcess {
  baseUrl: string;
  keys: { full: string; readOnly: string; noProfiles: string };
  /** Every id a complete read of `table` yields, streamed from `/__sandbox/expected/<table>/ids`. */
  expectedIds(table: string): AsyncIterable<string>;
  close(): Promise<void>;
}

const ROOT = path.resolve(__dirname, '../..');

export async function startSandboxProcess(args: string[]): Promise<SandboxProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'sandbox/main.ts', '--port', '0', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const first = await new Promise<string>((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.once('line', (line) => {
      lines.close();
      resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`The sandbox exited with code ${code}: ${stderr}`)));
  });
  const { baseUrl, keys } = JSON.parse(first) as Pick<SandboxProcess, 'baseUrl' | 'keys'>;
  return {
    baseUrl,
    keys,
    expectedIds: (table) => streamLines(`${baseUrl}/__sandbox/expected/${encodeURIComponent(table)}/ids`),
    close: () => stop(child),
  };
}

async function* streamLines(url: string): AsyncIterable<string> {
  const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get(url, resolve).once('error', reject);
  });
  if (response.statusCode !== 200) throw new Error(`GET ${url} answered ${response.statusCode}`);
  const lines = readline.createInterface({ input: response, crlfDelay: Infinity });
  for await (const line of lines) if (line.length > 0) yield line;
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
