import fs from 'node:fs';
import path from 'node:path';
import { load } from 'js-yaml';
import { z } from 'zod';
import { readKlaviyoRateLimits } from '../../klaviyo/rate-limit-setting';
import { resolveConnectionSettings } from '../../shared/connection-settings';
import { readConfig } from '../../shared/config';
import { SEARCH_ATTRIBUTES } from '../../shared/search-attributes';
import { TEMPORAL_SECURITY_VARIABLES } from '../../shared/temporal-connection';
import { WORKER_MALLOC_ENV, WORKER_NODE_OPTIONS } from '../../worker/worker-command';

/**
 * docker-compose.yml cannot be run here (no Docker engine): it is parsed, and what it says is checked against what
 * the code reads, so adding a setting, a search attribute or a service dependency without the compose file fails.
 */

const root = path.resolve(__dirname, '..', '..');

const serviceSchema = z
  .object({
    image: z.string().optional(),
    build: z.unknown().optional(),
    environment: z.record(z.union([z.string(), z.number(), z.boolean()])).optional(),
    ports: z.array(z.string()).optional(),
    depends_on: z.record(z.object({ condition: z.string() })).optional(),
    command: z.union([z.string(), z.array(z.string())]).optional(),
    deploy: z.object({ replicas: z.number().int() }).partial().optional(),
  })
  .passthrough();
type Service = z.infer<typeof serviceSchema>;

const composeSchema = z.object({ services: z.record(serviceSchema) }).passthrough();

const composeText = fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
const compose = composeSchema.parse(load(composeText));

function service(name: string): Service {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

/** A value as compose would see it with an empty environment: `${X:-d}` → d, `${X:?why}` → `<X>`, `$$` → `$`. */
function interpolate(value: string): string {
  return value
    .replace(/\$\{(\w+):-([^}]*)\}/g, (_, _name: string, fallback: string) => fallback)
    .replace(/\$\{(\w+):\?[^}]*\}/g, (_, name: string) => `<${name}>`)
    .replace(/\$\$/g, '$');
}

function env(name: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service(name).environment ?? {}).map(([key, value]) => [key, interpolate(String(value))]),
  );
}

/** `host:container` port mappings, interpolated. */
function ports(name: string): Array<{ host: number; container: number }> {
  return (service(name).ports ?? []).map((mapping) => {
    const [host, container] = interpolate(mapping).split(':').map(Number);
    return { host, container };
  });
}

function commandText(name: string): string {
  const command = service(name).command ?? '';
  return interpolate(Array.isArray(command) ? command.join('\n') : command);
}

/**
 * The environment variables the worker process reads: recorded while the worker's own readers run over an
 * environment that logs every lookup (so a key added to shared/config.ts is seen), plus any `env.NAME` read written
 * directly in the worker's source folders.
 */
function variablesTheWorkerReads(): string[] {
  const read = new Set<string>();
  const recording = new Proxy({} as NodeJS.ProcessEnv, {
    get(_target, key) {
      if (typeof key !== 'string') return undefined;
      read.add(key);
      return key === 'DATABASE_URL' ? 'postgres://user@db:5432/db' : undefined;
    },
  });
  // What worker/main.ts and the activities call: readConfig, resolveConnectionSettings, readKlaviyoRateLimits.
  resolveConnectionSettings(readConfig(recording), recording);
  readKlaviyoRateLimits(recording);

  const dirs = ['worker', 'activities', 'klaviyo', 'warehouse', 'control-plane', 'secrets', 'workflows', 'shared'];
  const sources = dirs.flatMap((dir) => typeScriptFiles(path.join(root, dir)));
  for (const file of sources) {
    for (const match of fs.readFileSync(file, 'utf8').matchAll(/\benv(?:\.|\[')([A-Z][A-Z0-9_]+)/g)) read.add(match[1]);
  }
  return [...read].filter((key) => /^[A-Z][A-Z0-9_]*$/.test(key)).sort();
}

function typeScriptFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return typeScriptFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

test('defines Temporal, its schema setup and init, the Web UI, Postgres and the worker', () => {
  expect(Object.keys(compose.services)).toEqual(
    expect.arrayContaining(['temporal', 'temporal-schema', 'temporal-init', 'temporal-ui', 'postgres', 'worker']),
  );
});

test('gives the worker every environment variable the worker reads', () => {
  const needed = variablesTheWorkerReads();
  // The recorder itself must work: these are read on every start.
  expect(needed).toEqual(expect.arrayContaining(['DATABASE_URL', 'TEMPORAL_ADDRESS', 'DATAFLOW_MASTER_KEY']));
  expect(Object.keys(env('worker')).sort()).toEqual(expect.arrayContaining(needed));
});

test('takes the master key and the database password from .env or the shell, never inline', () => {
  const raw = service('worker').environment ?? {};
  expect(raw.DATAFLOW_MASTER_KEY).toMatch(/^\$\{DATAFLOW_MASTER_KEY:\?[^}]+\}$/);
  expect(env('worker').DATABASE_URL).toContain(':<POSTGRES_PASSWORD>@');
  expect(env('postgres').POSTGRES_PASSWORD).toBe('<POSTGRES_PASSWORD>');
  expect(env('temporal').POSTGRES_PWD).toBe('<POSTGRES_PASSWORD>');
});

test('lists every variable the compose file requires in .env.example', () => {
  const required = new Set([...composeText.matchAll(/\$\{(\w+):\?/g)].map((m) => m[1]));
  const example = fs.readFileSync(path.join(root, '.env.example'), 'utf8');
  const listed = new Set([...example.matchAll(/^(\w+)=/gm)].map((m) => m[1]));
  expect(required.size).toBeGreaterThan(0);
  expect([...required].filter((name) => !listed.has(name))).toEqual([]);
});

test('registers exactly the search attributes of shared/search-attributes.ts, with their types', () => {
  const registered = Object.fromEntries(
    [...commandText('temporal-init').matchAll(/search-attribute create .*--name (\w+) --type (\w+)/g)].map((m) => [
      m[1],
      m[2],
    ]),
  );
  expect(registered).toEqual(SEARCH_ATTRIBUTES);
});

test('registers the search attributes in the namespace the worker polls', () => {
  expect(env('temporal-init').TEMPORAL_NAMESPACE).toBe(env('worker').TEMPORAL_NAMESPACE);
  const script = commandText('temporal-init');
  const creates = script.split('\n').filter((line) => line.includes('search-attribute create'));
  expect(script).toContain('ns="$TEMPORAL_NAMESPACE"');
  expect(creates.length).toBeGreaterThan(0);
  expect(creates.filter((line) => !line.includes('--namespace "$ns"'))).toEqual([]);
});

test('points the worker, the UI and the init at the temporal service on the port it listens on', () => {
  expect(ports('temporal').map((p) => p.container)).toContain(7233);
  for (const name of ['worker', 'temporal-ui', 'temporal-init']) {
    expect({ name, address: env(name).TEMPORAL_ADDRESS }).toEqual({ name, address: 'temporal:7233' });
  }
});

test('points DATABASE_URL and Temporal at the postgres service, its user and its database', () => {
  const url = new URL(env('worker').DATABASE_URL);
  const postgres = env('postgres');
  expect({ host: url.hostname, port: url.port, user: url.username, database: url.pathname.slice(1) }).toEqual({
    host: 'postgres',
    port: '5432',
    user: postgres.POSTGRES_USER,
    database: postgres.POSTGRES_DB,
  });
  expect(ports('postgres').map((p) => p.container)).toContain(5432);
  expect(env('temporal')).toMatchObject({
    POSTGRES_SEEDS: 'postgres',
    DB_PORT: '5432',
    POSTGRES_USER: postgres.POSTGRES_USER,
  });
});

test('links the Web UI the worker prints to the port the UI publishes', () => {
  const ui = new URL(env('worker').TEMPORAL_UI_URL);
  const published = ports('temporal-ui');
  expect(published).toContainEqual({ host: Number(ui.port), container: 8080 });
});

test('depends only on services that exist, in the order the stack needs', () => {
  for (const [name, definition] of Object.entries(compose.services)) {
    for (const dependency of Object.keys(definition.depends_on ?? {})) {
      expect({ name, dependency, exists: dependency in compose.services }).toEqual({ name, dependency, exists: true });
    }
  }
  expect(service('worker').depends_on).toMatchObject({
    postgres: { condition: 'service_healthy' },
    'temporal-init': { condition: 'service_completed_successfully' },
  });
  expect(service('temporal').depends_on).toMatchObject({
    'temporal-schema': { condition: 'service_completed_successfully' },
  });
  expect(service('temporal-init').depends_on).toMatchObject({ temporal: { condition: 'service_healthy' } });
});

test('publishes no host port twice', () => {
  const hostPorts = Object.keys(compose.services).flatMap((name) => ports(name).map((p) => p.host));
  expect(new Set(hostPorts).size).toBe(hostPorts.length);
});

test('runs more than one worker, built from the Dockerfile that runs the one build step and starts its output', () => {
  expect(service('worker').deploy?.replicas).toBeGreaterThan(1);
  expect(service('worker').build).toBe('.');
  expect(service('worker').ports ?? []).toEqual([]);
  const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  expect(dockerfile).toMatch(/^FROM node:20/m);
  expect(dockerfile).toMatch(/^RUN npm ci /m);
  // `npm run build` writes dist/worker.js and dist/workflow-bundle.js as root; the worker only reads them.
  expect(dockerfile).toMatch(/^RUN npm run build$/m);
  // Started as worker/worker-command.ts starts it everywhere else, and as `npm run worker` does.
  const lines = dockerfile.split('\n');
  const argv = ['node', ...WORKER_NODE_OPTIONS, 'dist/worker.js'];
  expect(lines).toContain(`CMD [${argv.map((a) => JSON.stringify(a)).join(', ')}]`);
  const malloc = Object.entries(WORKER_MALLOC_ENV).map(([k, v]) => `${k}=${v}`);
  expect(lines).toContain(`ENV ${malloc.join(' ')}`);
  const scripts = (
    JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts;
  expect(scripts.worker).toBe(`npm run build && ${malloc.join(' ')} exec ${argv.join(' ')}`);
});

test('serves the console from the workers’ image, bound to all interfaces only behind a token from .env', () => {
  const consoleService = service('console');
  expect(consoleService.image).toBe(service('worker').image);
  expect(commandText('console')).toContain('console/main.ts');
  const raw = consoleService.environment ?? {};
  expect(raw.DATAFLOW_CONSOLE_TOKEN).toMatch(/^\$\{DATAFLOW_CONSOLE_TOKEN:\?[^}]+\}$/);
  expect(raw.DATAFLOW_MASTER_KEY).toBe(service('worker').environment?.DATAFLOW_MASTER_KEY);
  expect(env('console')).toMatchObject({
    DATABASE_URL: env('worker').DATABASE_URL,
    TEMPORAL_ADDRESS: env('worker').TEMPORAL_ADDRESS,
    DATAFLOW_CONSOLE_HOST: '0.0.0.0',
  });
  expect(ports('console')).toEqual([{ host: 8234, container: Number(env('console').DATAFLOW_CONSOLE_PORT) }]);
});

test('gives the worker and the console the same secured-Temporal settings, and the worker a metrics address', () => {
  for (const name of TEMPORAL_SECURITY_VARIABLES) {
    expect({ name, console: service('console').environment?.[name] }).toEqual({
      name,
      console: service('worker').environment?.[name],
    });
  }
  expect(env('worker').DATAFLOW_METRICS_ADDRESS).toMatch(/^0\.0\.0\.0:\d+$/);
});
