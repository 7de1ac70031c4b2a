import fs from 'node:fs';
import { startTestEngine, type TestEngine } from '../support/engine';
import { makeTestCertificates, startTlsProxy, type TestCertificates, type TlsProxy } from '../support/tls-proxy';
import { runCli } from '../engine/cli-process';
import { spawnWorkerProcess, type WorkerProcess } from '../engine/worker-process';
import { readTemporalSecurity } from '../../shared/temporal-connection';

/**
 * A worker process and the CLI against a Temporal endpoint that requires mutual TLS (a TLS-terminating proxy in front
 * of the dev server, with certificates made by openssl here): with the right settings a run completes through it;
 * without the client certificate, with an untrusted server certificate, or in plain gRPC, both fail in words that
 * name the setting to fix, and never print a private key.
 */

const NAME = 'SecuredRun';
let engine: TestEngine;
let certs: TestCertificates;
let proxy: TlsProxy;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  certs = makeTestCertificates();
  engine = await startTestEngine({ worker: false, sandbox: { sizes: { profiles: 300 } } });
  proxy = await startTlsProxy({
    target: engine.temporal.address,
    cert: certs.serverCert,
    key: certs.serverKey,
    clientCa: certs.ca,
  });
}, 120_000);

afterAll(async () => {
  for (const worker of workers) await worker.kill('SIGKILL');
  await proxy?.close();
  await engine?.stop();
  certs?.remove();
});

/** The engine's environment pointed at the TLS endpoint, with `tls` settings. */
function securedEnv(tls: Record<string, string>): NodeJS.ProcessEnv {
  return { ...engine.env, TEMPORAL_ADDRESS: proxy.address, TEMPORAL_TLS_SERVER_NAME: 'temporal.test', ...tls };
}

const mutualTls = () => ({
  TEMPORAL_TLS_CA: certs.ca,
  TEMPORAL_TLS_CERT: certs.clientCert,
  TEMPORAL_TLS_KEY: certs.clientKey,
});

function keyBodies(): string[] {
  return [certs.clientKey, certs.otherClientKey].map(
    (file) =>
      fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => line.length > 40)[1],
  );
}

function expectNoKey(text: string): void {
  for (const body of keyBodies()) expect(text).not.toContain(body);
  expect(text).not.toContain('PRIVATE KEY-----');
}

test('a worker polls through mutual TLS and runs a dataflow; the CLI lists it over the same endpoint', async () => {
  const worker = spawnWorkerProcess(securedEnv(mutualTls()));
  workers.push(worker);
  await worker.ready;
  await engine.api.create({
    name: NAME,
    apiKey: engine.sandbox.keys.full,
    baseUrl: engine.sandbox.baseUrl,
    tables: ['profiles'],
  });
  const result = await engine.api.waitForRun(await engine.api.run(NAME));
  expect(result.tables.find((t) => t.table === 'profiles')?.rows).toBe(300);

  // PEM text in the variables works as well as file paths.
  const inline = {
    TEMPORAL_TLS_CA: fs.readFileSync(certs.ca, 'utf8'),
    TEMPORAL_TLS_CERT: fs.readFileSync(certs.clientCert, 'utf8'),
    TEMPORAL_TLS_KEY: fs.readFileSync(certs.clientKey, 'utf8'),
  };
  const list = await runCli(securedEnv(inline), ['list', '--json']);
  expect({ code: list.code, stderr: list.stderr }).toEqual({ code: 0, stderr: '' });
  expect(list.stdout).toContain(NAME);
}, 180_000);

test.each([
  [
    'without the client certificate',
    { TEMPORAL_TLS_CA: 'ca' },
    /asks for a client certificate \(mutual TLS\): set TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY/,
  ],
  [
    'with a client certificate the server does not trust',
    { TEMPORAL_TLS_CA: 'ca', TEMPORAL_TLS_CERT: 'otherClientCert', TEMPORAL_TLS_KEY: 'otherClientKey' },
    /refused the client certificate: check that TEMPORAL_TLS_CERT is signed by a CA the server trusts/,
  ],
  [
    'with a CA that did not sign the server certificate',
    { TEMPORAL_TLS_CA: 'otherCa', TEMPORAL_TLS_CERT: 'clientCert', TEMPORAL_TLS_KEY: 'clientKey' },
    /not trusted: set TEMPORAL_TLS_CA to the CA that signed it/,
  ],
  ['in plain gRPC', { TEMPORAL_TLS_SERVER_NAME: '' }, /requires TLS: set TEMPORAL_TLS_CA/],
])(
  '%s, the CLI and the worker fail saying which setting to fix',
  async (_case, settings, words) => {
    const env = securedEnv(
      Object.fromEntries(Object.entries(settings).map(([name, file]) => [name, file ? certs[file as 'ca'] : ''])),
    );
    // Both at once: each spends most of its time waiting for the connection to fail, not computing.
    const worker = spawnWorkerProcess(env);
    workers.push(worker);
    const [cli, ready] = await Promise.all([
      runCli(env, ['list']),
      worker.ready.then(
        () => null,
        (err: Error) => err,
      ),
    ]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(words);
    expectNoKey(cli.stderr + cli.stdout);

    expect(ready?.message).toMatch(words);
    expect(await worker.exited).toBe(1);
    expectNoKey(worker.output());
  },
  120_000,
);

test('settings that cannot work are refused before connecting, in words', () => {
  const read = (env: Record<string, string>) => () => readTemporalSecurity(env);
  expect(read({ TEMPORAL_TLS_CERT: certs.clientCert })).toThrow('TEMPORAL_TLS_CERT is set but TEMPORAL_TLS_KEY is not');
  expect(read({ TEMPORAL_TLS_CERT: '/nowhere/client.pem', TEMPORAL_TLS_KEY: certs.clientKey })).toThrow(
    'TEMPORAL_TLS_CERT is neither PEM text nor a readable file: /nowhere/client.pem (there is no such file)',
  );
  expect(read({ TEMPORAL_TLS_CERT: certs.clientCert, TEMPORAL_TLS_KEY: certs.otherClientKey })).toThrow(
    'TEMPORAL_TLS_KEY is not the private key of TEMPORAL_TLS_CERT',
  );
  expect(read({ TEMPORAL_TLS_CA: certs.clientKey })).toThrow('holds no PEM certificate');
  // An API key alone means TLS with the system's CAs, as Temporal Cloud wants.
  expect(readTemporalSecurity({ TEMPORAL_API_KEY: 'secret-api-key' })).toEqual({ tls: {}, apiKey: 'secret-api-key' });
  expect(readTemporalSecurity({})).toEqual({ tls: false, apiKey: undefined });
});

test('a missing certificate file stops the CLI with exit status 2 and the file named', async () => {
  const cli = await runCli(
    securedEnv({ TEMPORAL_TLS_CERT: '/nowhere/client.pem', TEMPORAL_TLS_KEY: certs.clientKey }),
    ['list'],
  );
  expect(cli.code).toBe(2);
  expect(cli.stderr).toContain('TEMPORAL_TLS_CERT is neither PEM text nor a readable file: /nowhere/client.pem');
  expectNoKey(cli.stderr);
});
