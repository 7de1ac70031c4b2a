import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { locateTemporalCli } from '../../stack/temporal-cli';
import { startTemporalServer, type TemporalServer } from '../../stack/temporal-server';

/**
 * A Temporal dev server of a test: free ports, headless, search attributes registered, retention raised. Its
 * address, namespace and restart are the server's own; the test adds a shared connection and its temporary
 * directory's clean-up.
 */
export interface TestTemporal extends Pick<TemporalServer, 'address' | 'namespace' | 'restart'> {
  readonly server: TemporalServer;
  /** One connection per server, opened on first use and closed by `stop()`. */
  connection(): Promise<Connection>;
  client(): Promise<Client>;
  /** Closes the connection, stops the server and deletes its temporary directory. */
  stop(): Promise<void>;
}

export interface TestTemporalOptions {
  /** Keep state in a temporary SQLite file, so it survives `restart()`. @default false (in memory) */
  persist?: boolean;
}

let cliPath: Promise<string | undefined> | undefined;

export async function startTestTemporal(options: TestTemporalOptions = {}): Promise<TestTemporal> {
  cliPath ??= locateTemporalCli().then((location) => location.path);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dataflows-temporal-'));
  let server: TemporalServer;
  try {
    server = await startTemporalServer({
      cliPath: await cliPath,
      logFile: path.join(dir, 'temporal.log'),
      dbFile: options.persist ? path.join(dir, 'temporal.db') : undefined,
      port: 0,
      ui: false,
      // Info, not warn: the resilience suite's key scan reads this log (test/support/key-scan.ts).
      logLevel: 'info',
    });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  let connection: Promise<Connection> | undefined;
  const connect = () => (connection ??= Connection.connect({ address: server.address }));
  return {
    address: server.address,
    namespace: server.namespace,
    server,
    connection: connect,
    client: async () => new Client({ connection: await connect(), namespace: server.namespace }),
    restart: () => server.restart(),
    async stop() {
      const open = connection;
      connection = undefined;
      await (await open?.catch(() => undefined))?.close();
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
