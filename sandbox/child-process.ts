import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import readline from 'node:readline';
import { z } from 'zod';
import { projectRoot } from '../stack/project-root';
import type { LatencyUpdate, RequestLogEntry } from './server';

/**
 * The sandbox as a child process (`node --import tsx sandbox/main.ts`), driven through its admin API.
 * Benchmarks and volume tests use it so the server's work runs on its own core (and outside jest's
 * module sandbox), and the measuring process's CPU and RSS are its own.
 */
export interface SandboxProcess {
  readonly pid: number;
  readonly baseUrl: string;
  readonly keys: { full: string; readOnly: string; noProfiles: string };
  /** `reportsPerDay` and `reportDaySeconds` set the Reporting API's daily quota (see http/admin-handler.ts). */
  setRateLimits(settings: {
    enabled: boolean;
    scale?: number;
    reportsPerDay?: number;
    reportDaySeconds?: number;
  }): Promise<void>;
  /** Replaces the latency model (`{}` = off): `{baseMs?, perKbMs?, jitter?, seed?}`. */
  setLatency(settings: LatencyUpdate): Promise<void>;
  resetRequestLog(): Promise<void>;
  requestLog(): Promise<RequestLogEntry[]>;
  expectedCount(table: string): Promise<number>;
  /** Every id a complete read of `table` yields, streamed from `/__sandbox/expected/<table>/ids`. */
  expectedIds(table: string): AsyncIterable<string>;
  close(): Promise<void>;
}

const firstLineSchema = z.object({
  baseUrl: z.string().url(),
  keys: z.object({ full: z.string(), readOnly: z.string(), noProfiles: z.string() }),
});

/** `args` are sandbox/main.ts flags, e.g. `['--profiles', '1000', '--no-rate-limits']`. */
export async function startSandboxProcess(args: readonly string[]): Promise<SandboxProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'sandbox/main.ts', '--port', '0', ...args], {
    cwd: projectRoot(),
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
  const { baseUrl, keys } = firstLineSchema.parse(JSON.parse(first));
  const admin = async (method: string, path: string, body?: unknown): Promise<Response> => {
    const response = await fetch(`${baseUrl}/__sandbox/${path}`, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) {
      throw new Error(`Sandbox admin ${method} ${path} answered ${response.status}: ${await response.text()}`);
    }
    return response;
  };
  return {
    pid: child.pid as number,
    baseUrl,
    keys,
    async setRateLimits(settings) {
      await admin('PUT', 'rate-limits', settings);
    },
    async setLatency(settings) {
      await admin('PUT', 'latency', settings);
    },
    async resetRequestLog() {
      await admin('POST', 'requests/reset');
    },
    async requestLog() {
      const body = (await (await admin('GET', 'requests')).json()) as { entries: RequestLogEntry[] };
      return body.entries;
    },
    async expectedCount(table) {
      const body = (await (await admin('GET', `expected/${encodeURIComponent(table)}`)).json()) as { count: number };
      return body.count;
    },
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
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
