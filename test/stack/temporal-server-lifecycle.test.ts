import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { isListening } from '../../stack/free-port';
import { isProcessAlive } from '../../stack/managed-process';
import { SEARCH_ATTRIBUTE_TYPES, startTemporalServer, type TemporalServer } from '../../stack/temporal-server';

describe('a Temporal dev server restarted with more search attributes', () => {
  let dir: string;
  let server: TemporalServer;
  let firstPid: number | undefined;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dataflows-temporal-lifecycle-'));
    const common = { logFile: path.join(dir, 'temporal.log'), dbFile: path.join(dir, 'temporal.db'), ui: false };
    const first = await startTemporalServer({ ...common, port: 0, searchAttributes: { FirstKey: 'Keyword' } });
    firstPid = first.pid;
    await first.stop();
    // `temporal server start-dev` registers --search-attribute only when it creates the database.
    const port = Number(first.address.split(':')[1]);
    server = await startTemporalServer({ ...common, port, searchAttributes: { FirstKey: 'Keyword', LaterKey: 'Int' } });
  });
  afterAll(async () => {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('has the process of the first start ended by stop()', () => {
    expect(firstPid).toBeDefined();
    expect(isProcessAlive(firstPid as number)).toBe(false);
  });

  it('registers the attribute that the existing database did not have', async () => {
    const connection = await Connection.connect({ address: server.address });
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      expect({ FirstKey: customAttributes?.FirstKey, LaterKey: customAttributes?.LaterKey }).toEqual({
        FirstKey: SEARCH_ATTRIBUTE_TYPES.Keyword,
        LaterKey: SEARCH_ATTRIBUTE_TYPES.Int,
      });
    } finally {
      await connection.close();
    }
  });

  it('writes the server output to its log file', () => {
    expect(fs.readFileSync(server.logFile, 'utf8')).toContain(`Temporal Persistence: ${server.dbFile}`);
  });

  it('no longer listens once stopped', async () => {
    const [host, port] = server.address.split(':');
    await server.stop();
    expect(server.isRunning()).toBe(false);
    expect(await isListening(Number(port), host)).toBe(false);
  });
});
