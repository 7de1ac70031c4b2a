import { randomBytes } from 'node:crypto';
import { CATALOG } from '../../klaviyo/catalog';
import {
  createDataflow,
  deleteDataflow,
  getDataflow,
  getDataflowById,
  listDataflows,
  loadApiKey,
  setDataflowStatus,
  updateDataflow,
} from '../../control-plane/dataflows';
import { getTables, setTables } from '../../control-plane/dataflow-tables';
import {
  DataflowExistsError,
  DataflowNotFoundError,
  InvalidApiKeyFormatError,
  InvalidDataflowInputError,
  InvalidDataflowNameError,
  InvalidSelectionError,
  SchemaConflictError,
  SecretDecryptionError,
} from '../../control-plane/errors';
import { SecretBox } from '../../control-plane/secret-box';
import { createScratchDatabase, type ScratchDatabase } from './scratch-database';

const KEY = 'pk_abcdefghijklmnopqrstuvwxyz01234567';
const OTHER_KEY = 'pk_ZYXWVUTSRQPONMLKJIHGFEDCBA98765432';

describe('dataflows in the control plane', () => {
  let db: ScratchDatabase;
  const secrets = SecretBox.fromKey(randomBytes(32));

  beforeAll(async () => {
    db = await createScratchDatabase('cp');
  });
  afterAll(async () => {
    await db.drop();
  });

  const create = (name: string, extra: Partial<Parameters<typeof createDataflow>[2]> = {}) =>
    createDataflow(db.pool, secrets, { name, apiKey: KEY, ...extra });

  test('a dataflow is found by its name in any case, and keeps the case it was given', async () => {
    const created = await create('KlaviyoDemo');
    const found = await getDataflow(db.pool, 'KLAVIYODEMO');
    expect(found.id).toBe(created.id);
    expect(found.name).toBe('KlaviyoDemo');
  });

  test('an unknown name is a DataflowNotFoundError saying which name', async () => {
    await expect(getDataflow(db.pool, 'Nope')).rejects.toThrow(new DataflowNotFoundError('Nope'));
    await expect(getDataflow(db.pool, 'Nope')).rejects.toThrow('No dataflow named "Nope".');
  });

  test('a second dataflow whose name differs only in case is refused, naming the existing one', async () => {
    await create('CaseTest');
    await expect(create('casetest')).rejects.toThrow('already exists (as "CaseTest")');
  });

  test('two creations racing for one name (in different cases) leave exactly one', async () => {
    const results = await Promise.allSettled([create('RaceName'), create('RACENAME'), create('racename')]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const result of results) {
      if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(DataflowExistsError);
    }
  });

  test.each(['', '1abc', 'my flow', 'a;drop', 'café'])(
    'the invalid name %j is refused before anything is stored',
    async (name) => {
      const before = (await listDataflows(db.pool)).length;
      await expect(create(name)).rejects.toThrow(InvalidDataflowNameError);
      expect(await listDataflows(db.pool)).toHaveLength(before);
    },
  );

  test('a name whose schema already exists in the database is refused', async () => {
    await db.pool.query('CREATE SCHEMA takenschema');
    await expect(create('TakenSchema')).rejects.toThrow(SchemaConflictError);
  });

  test('display name and description are stored exactly as given, whatever the Unicode', async () => {
    const displayName = `Ünïcödé 🚀👩‍👩‍👧 "quoted" \\ back\tslash עברית ${'😀'.repeat(150)}`;
    const description = `line 1\nline 2\r\n'single' "double" $1 %s \\N \u200b zero-width e\u0301`;
    const created = await create('Faithful', { displayName, description });
    const found = await getDataflowById(db.pool, created.id);
    expect(found.displayName).toBe(displayName);
    expect(found.description).toBe(description);
  });

  test('a description with U+0000 is refused: Postgres text cannot hold it', async () => {
    await expect(create('NulText', { description: 'a\u0000b' })).rejects.toThrow(InvalidDataflowInputError);
  });

  test('a malformed API key is refused without being stored or echoed', async () => {
    const key = `${KEY}\n`;
    const error = await create('BadKey', { apiKey: key }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(InvalidApiKeyFormatError);
    expect((error as Error).message).not.toContain(KEY.slice(3));
    await expect(getDataflow(db.pool, 'BadKey')).rejects.toThrow(DataflowNotFoundError);
  });

  test('the API key is stored encrypted: no control-plane row holds it, only its last 4 characters', async () => {
    const created = await create('SecretKeeper');
    expect(created.apiKeyHint).toBe('4567');
    const { rows } = await db.pool.query<{ dump: string }>(
      `SELECT string_agg(t::text, '|') AS dump FROM (
         SELECT d::text AS t FROM dataflow_control.dataflows d
         UNION ALL SELECT encode(api_key_encrypted, 'escape') FROM dataflow_control.dataflows
         UNION ALL SELECT x::text FROM dataflow_control.dataflow_tables x) all_rows`,
    );
    expect(rows[0].dump).not.toContain(KEY.slice(3, 30));
    expect(rows[0].dump).not.toContain(Buffer.from(KEY.slice(3, 30)).toString('hex'));
  });

  test('loadApiKey decrypts the stored key', async () => {
    const created = await create('KeyLoader');
    await expect(loadApiKey(db.pool, secrets, created.id)).resolves.toBe(KEY);
  });

  test("a key copied into another dataflow's row does not decrypt there", async () => {
    const a = await create('KeyOwnerA');
    const b = await create('KeyOwnerB', { apiKey: OTHER_KEY });
    await db.pool.query(
      `UPDATE dataflow_control.dataflows SET api_key_encrypted =
         (SELECT api_key_encrypted FROM dataflow_control.dataflows WHERE id = $1) WHERE id = $2`,
      [a.id, b.id],
    );
    await expect(loadApiKey(db.pool, secrets, b.id)).rejects.toThrow(SecretDecryptionError);
  });

  test('a new dataflow selects every catalog table with all its fields', async () => {
    const created = await create('AllTables');
    expect(created.tablesCount).toBe(CATALOG.length);
    const tables = await getTables(db.pool, created.id);
    expect(tables.map((t) => t.table)).toEqual(CATALOG.map((t) => t.name));
    const events = tables.find((t) => t.table === 'events');
    expect(events?.selectedFields).toEqual(CATALOG.find((t) => t.name === 'events')?.fields.map((f) => f.name));
  });

  test('an edit changes the description, the key and the selection, and moves updatedAt', async () => {
    const created = await create('Editable');
    const edited = await updateDataflow(db.pool, secrets, 'editable', {
      description: 'new words',
      apiKey: OTHER_KEY,
      tables: [
        { table: 'events', fields: ['datetime'] },
        { table: 'profiles', selected: false },
      ],
    });
    expect(edited).toMatchObject({ description: 'new words', apiKeyHint: '5432', tablesCount: 1 });
    expect(edited.updatedAt.getTime()).toBeGreaterThan(created.updatedAt.getTime());
    await expect(loadApiKey(db.pool, secrets, created.id)).resolves.toBe(OTHER_KEY);
    const tables = await getTables(db.pool, created.id);
    expect(tables).toEqual([
      expect.objectContaining({ table: 'profiles', selected: false }),
      expect.objectContaining({ table: 'events', selected: true, selectedFields: ['datetime'] }),
    ]);
  });

  test('a selection naming an unknown table or field is refused, naming them', async () => {
    const created = await create('Selective');
    await expect(setTables(db.pool, created.id, [{ table: 'eventz' }])).rejects.toThrow(/Unknown table "eventz"/);
    await expect(setTables(db.pool, created.id, [{ table: 'events', fields: ['datetime', 'nope'] }])).rejects.toThrow(
      new InvalidSelectionError(
        'The table "events" has no field "nope"; its fields are: timestamp, event_properties, datetime, uuid.',
      ),
    );
  });

  test('the list is ordered by name regardless of case', async () => {
    const names = (await listDataflows(db.pool)).map((d) => d.name);
    expect(names).toEqual([...names].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())));
    expect(names.length).toBeGreaterThan(5);
  });

  test('a status and its error are recorded for the list', async () => {
    const created = await create('Statusful');
    await setDataflowStatus(db.pool, created.id, 'Failed', 'Klaviyo rejected the API key');
    expect(await getDataflowById(db.pool, created.id)).toMatchObject({
      status: 'Failed',
      lastError: 'Klaviyo rejected the API key',
    });
  });

  test('deleting a dataflow removes it and its selection', async () => {
    const created = await create('Doomed');
    await expect(deleteDataflow(db.pool, created.id)).resolves.toBe(true);
    await expect(getDataflow(db.pool, 'Doomed')).rejects.toThrow(DataflowNotFoundError);
    const { rowCount } = await db.pool.query('SELECT 1 FROM dataflow_control.dataflow_tables WHERE dataflow_id = $1', [
      created.id,
    ]);
    expect(rowCount).toBe(0);
  });
});
