import type { FastifyInstance } from 'fastify';
import { createConsoleServer, type ConsoleServerOptions } from '../../console/server/app';
import type { TestEngine } from './engine';

/** A console of a test's engine, listening on a free loopback port, with every answer it gave kept for scans. */
export interface TestConsole {
  server: FastifyInstance;
  /** e.g. `http://127.0.0.1:40123` */
  url: string;
  /** Every response body and header block the tests' `call` saw, in order. */
  answers: string[];
  /** One API call as a script would make it (JSON in, JSON out). */
  call<T = unknown>(
    method: string,
    path: string,
    options?: { body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: T; headers: Headers }>;
  close(): Promise<void>;
}

export async function startTestConsole(
  engine: TestEngine,
  options: Partial<Omit<ConsoleServerOptions, 'api'>> = {},
): Promise<TestConsole> {
  const errors: string[] = [];
  const server = await createConsoleServer({
    api: engine.api,
    host: '127.0.0.1',
    logError: (line) => errors.push(line),
    ...options,
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const address = server.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const answers: string[] = [];
  return {
    server,
    url,
    answers,
    async call<T>(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}) {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: {
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(opts.headers ?? {}),
        },
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        redirect: 'manual',
      });
      const text = await response.text();
      answers.push(`${method} ${path} ${response.status}\n${[...response.headers].join('\n')}\n${text}`);
      const type = response.headers.get('content-type') ?? '';
      return {
        status: response.status,
        body: (type.includes('json') && text ? JSON.parse(text) : text) as T,
        headers: response.headers,
      };
    },
    async close() {
      await server.close();
      if (errors.length > 0) console.warn(`console errors during the test:\n${errors.join('\n')}`);
    },
  };
}

/** Pieces of a key that must never appear anywhere: the whole key, its secret, and a run from its middle. */
export function keyFragments(apiKey: string): string[] {
  const secret = apiKey.replace(/^pk_/, '');
  return [apiKey, secret, secret.slice(8, 20)];
}
