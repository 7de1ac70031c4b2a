import { getTable } from '../../klaviyo/catalog';
import { InvalidRowError } from '../../warehouse/errors';
import { createRowMapper, mapResource } from '../../warehouse/row-mapping';
import { tableLayout } from '../../warehouse/table-layout';
import {
  toBigint,
  toBoolean,
  toNumeric,
  toText,
  toTimestamp,
  type CoercionTally,
} from '../../warehouse/value-coercion';

describe('row mapping', () => {
  const events = tableLayout(getTable('events'));
  const event = {
    type: 'event',
    id: 'E1',
    attributes: {
      timestamp: 1700000000,
      event_properties: { $value: 9.99, $event_id: 'x', items: [1, 'two'] },
      datetime: '2023-11-14T22:13:20+00:00',
      uuid: 'u-1',
    },
    relationships: { profile: { data: { type: 'profile', id: 'P1' } }, metric: { data: { type: 'metric', id: 'M1' } } },
  };

  test('an event maps to its id, relationship ids and typed attributes in column order', () => {
    expect(mapResource(events, event)).toEqual([
      'E1',
      'P1',
      'M1',
      '1700000000',
      { $value: 9.99, $event_id: 'x', items: [1, 'two'] },
      '2023-11-14T22:13:20+00:00',
      'u-1',
    ]);
  });

  test('absent attributes and relationships map to null', () => {
    expect(mapResource(events, { type: 'event', id: 'E2' })).toEqual(['E2', null, null, null, null, null, null]);
  });

  test('a value that cannot be coerced becomes null and is counted under its column', () => {
    const tally: CoercionTally = new Map();
    const row = createRowMapper(events)(
      { type: 'event', id: 'E3', attributes: { timestamp: 'soon', datetime: 'yesterday' } },
      {},
      tally,
    );
    expect(row[3]).toBeNull();
    expect(row[5]).toBeNull();
    expect(Object.fromEntries(tally)).toEqual({ timestamp: 1, datetime: 1 });
  });

  test('a fan-out row takes its parent id from the context', () => {
    const memberships = tableLayout(getTable('list_memberships'));
    expect(mapResource(memberships, { type: 'profile', id: 'P1' }, { parentId: 'L1' }).slice(0, 2)).toEqual([
      'P1',
      'L1',
    ]);
  });

  test('a fan-out row without a parent id is refused: it would be a row without its key', () => {
    const memberships = tableLayout(getTable('list_memberships'));
    expect(() => mapResource(memberships, { type: 'profile', id: 'P1' })).toThrow(InvalidRowError);
  });

  test('a parent column falls back to the relationship of the same name', () => {
    const properties = tableLayout(getTable('metric_properties'));
    const row = mapResource(properties, {
      type: 'metric-property',
      id: 'MP1',
      relationships: { metric: { data: { type: 'metric', id: 'M9' } } },
    });
    expect(row.slice(0, 2)).toEqual(['MP1', 'M9']);
  });

  test('a campaign row carries the channel of its pass', () => {
    const campaigns = tableLayout(getTable('campaigns'));
    expect(mapResource(campaigns, { type: 'campaign', id: 'C1' }, { channel: 'sms' }).slice(0, 2)).toEqual([
      'C1',
      'sms',
    ]);
  });

  test('a resource without an id is refused', () => {
    expect(() => mapResource(events, { type: 'event', id: '' })).toThrow(InvalidRowError);
  });
});

describe('value coercion', () => {
  test.each([
    [12.5, '12.5'],
    ['12.50', '12.50'],
    [' -3e5 ', '-3e5'],
    ['12345678901234567890.123456789', '12345678901234567890.123456789'],
    ['abc', undefined],
    ['1e99999', undefined],
    [Number.NaN, undefined],
    [true, undefined],
  ])('numeric: %j → %j', (value, expected) => {
    expect(toNumeric(value)).toBe(expected);
  });

  test.each([
    [42, '42'],
    ['42', '42'],
    ['9223372036854775807', '9223372036854775807'],
    ['9223372036854775808', undefined],
    [3.5, undefined],
    ['3.0', undefined],
  ])('bigint: %j → %j (never rounded)', (value, expected) => {
    expect(toBigint(value)).toBe(expected);
  });

  test.each([
    [true, true],
    ['FALSE', false],
    [1, true],
    [0, false],
    ['yes', undefined],
    [2, undefined],
  ])('boolean: %j → %j', (value, expected) => {
    expect(toBoolean(value)).toBe(expected);
  });

  test.each([
    ['2024-01-02T03:04:05+00:00', '2024-01-02T03:04:05+00:00'],
    ['2024-01-02T03:04:05.123456Z', '2024-01-02T03:04:05.123456Z'],
    ['2024-01-02T03:04:05', '2024-01-02T03:04:05+00:00'],
    ['2024-02-29', '2024-02-29T00:00:00+00:00'],
    ['2023-02-29T00:00:00Z', undefined],
    ['2024-13-01T00:00:00Z', undefined],
    ['0000-01-01T00:00:00Z', undefined],
    ['2024-01-02T25:00:00Z', undefined],
    [1700000000, undefined],
    ['not a date', undefined],
  ])('timestamptz: %j → %j (a value without offset is UTC)', (value, expected) => {
    expect(toTimestamp(value)).toBe(expected);
  });

  test('text keeps strings, writes numbers and booleans, and keeps objects as JSON', () => {
    expect([toText('x'), toText(1.5), toText(false)]).toEqual(['x', '1.5', 'false']);
    expect(toText({ a: 1 })).toEqual({ a: 1 });
  });
});
