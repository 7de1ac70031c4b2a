import { DataflowApi } from '../client/dataflow-api';
import { readEnvNumber } from '../shared/env-number';
import { reportOf } from '../client/error-report';
import { assertSafeBind, DEFAULT_CONSOLE_HOST } from './server/bind-address';
import { createConsoleServer } from './server/app';

/** The console's own settings, from the environment; Postgres and Temporal are found as the CLI finds them. */
export interface ConsoleSettings {
  host: string;
  port: number;
  token: string | undefined;
  secureCookies: boolean;
}

/** @default port 8234, next to the Temporal Web UI's 8233 */
export const DEFAULT_CONSOLE_PORT = 8234;

export function readConsoleSettings(env: NodeJS.ProcessEnv = process.env): ConsoleSettings {
  const portRule = { whole: true, min: 0, max: 65535, what: 'a port number' };
  const port = readEnvNumber(env, 'DATAFLOW_CONSOLE_PORT', portRule) ?? DEFAULT_CONSOLE_PORT;
  const token = env.DATAFLOW_CONSOLE_TOKEN || undefined;
  if (token !== undefined && token.length < 16) {
    throw new Error('DATAFLOW_CONSOLE_TOKEN is too short to protect anything: use at least 16 random characters.');
  }
  return {
    host: env.DATAFLOW_CONSOLE_HOST || DEFAULT_CONSOLE_HOST,
    port,
    token,
    secureCookies: env.DATAFLOW_CONSOLE_SECURE_COOKIES === '1',
  };
}

/**
 * `npm run console`: serves the Imports console against `DATABASE_URL`/`TEMPORAL_*` (else the local stack).
 * Prints one line, `Console: <url>`, once it listens, so a parent process can read where it is.
 */
async function main(): Promise<void> {
  const settings = readConsoleSettings();
  assertSafeBind(settings.host, settings.token);
  const api = await DataflowApi.connect();
  const server = await createConsoleServer({
    api,
    host: settings.host,
    token: settings.token,
    secureCookies: settings.secureCookies,
  });
  let closing = false;
  const close = () => {
    if (closing) process.exit(1);
    closing = true;
    void server
      .close()
      .then(() => api.close())
      .finally(() => process.exit(0));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, close);
  await server.listen({ host: settings.host, port: settings.port });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : settings.port;
  const shownHost = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  console.log(
    `Console: http://${shownHost}:${port}/imports${settings.token ? ' (sign in with DATAFLOW_CONSOLE_TOKEN)' : ''}`,
  );
}

if (require.main === module) {
  main().catch((err: unknown) => {
    const report = reportOf(err);
    console.error(`error: ${report.message}`);
    process.exit(report.kind === 'internal' ? 1 : 2);
  });
}
