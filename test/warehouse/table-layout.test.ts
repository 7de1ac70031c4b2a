import { CATALOG, getTable, type CatalogTable } from '../../klaviyo/catalog';
import { InvalidIdentifierError } from '../../warehouse/errors';
import { tableLayout } from '../../warehouse/table-layout';

const columnsOf = (table: string) => tableLayout(getTable(table)).columns.map((c) => `${c.name}:${c.type}`);

describe('table layouts', () => {
  test('every catalog table has a layout whose column names are safe identifiers', () => {
    for (const table of CATALOG) {
      const layout = tableLayout(table);
      for (const column of layout.columns) expect(column.name).toMatch(/^[a-z_][a-z0-9_]*$/);
      expect(layout.primaryKey).toContain('id');
    }
  });

  test('events have the id, one column per to-one relationship and typed fields', () => {
    expect(columnsOf('events')).toEqual([
      'id:text',
      'profile_id:text',
      'metric_id:text',
      'timestamp:bigint',
      'event_properties:jsonb',
      'datetime:timestamptz',
      'uuid:text',
    ]);
    expect(tableLayout(getTable('events')).primaryKey).toEqual(['id']);
  });

  test('a fan-out table carries its parent id, first in its key', () => {
    const layout = tableLayout(getTable('list_memberships'));
    expect(layout.columns[1]).toMatchObject({ name: 'list_id', source: { kind: 'parent' } });
    expect(layout.primaryKey).toEqual(['list_id', 'id']);
  });

  test('a parent that is also a to-one relationship becomes one column', () => {
    const names = tableLayout(getTable('metric_properties')).columns.map((c) => c.name);
    expect(names.filter((n) => n === 'metric_id')).toHaveLength(1);
  });

  test('relationship names with hyphens become underscores', () => {
    expect(columnsOf('mapped_metrics')).toContain('custom_metric_id:text');
    expect(tableLayout(getTable('flow_messages')).primaryKey).toEqual(['flow_action_id', 'id']);
  });

  test('campaigns carry the channel of their pass in the key', () => {
    expect(tableLayout(getTable('campaigns')).primaryKey).toEqual(['channel', 'id']);
  });

  test('an id-only relationship table has just the parent id and the id', () => {
    expect(columnsOf('tag_campaigns')).toEqual(['id:text', 'tag_id:text']);
  });

  test('only the selected fields become columns', () => {
    const events = getTable('events');
    const layout = tableLayout(
      events,
      events.fields.filter((f) => f.name === 'datetime'),
    );
    expect(layout.columns.map((c) => c.name)).toEqual(['id', 'profile_id', 'metric_id', 'datetime']);
  });

  test('two fields mapping to one column are refused, not renamed', () => {
    const hostile: CatalogTable = {
      ...getTable('tags'),
      fields: [
        { name: 'a-b', type: 'text', apiType: 'string' },
        { name: 'a_b', type: 'text', apiType: 'string' },
      ],
    };
    expect(() => tableLayout(hostile)).toThrow(
      /the field "a_b" would go into column "a_b", which is already the field "a-b"/,
    );
  });

  test('a field that would take a system column is refused', () => {
    const hostile: CatalogTable = {
      ...getTable('tags'),
      fields: [{ name: '_version', type: 'text', apiType: 'string' }],
    };
    expect(() => tableLayout(hostile)).toThrow(InvalidIdentifierError);
  });
});
