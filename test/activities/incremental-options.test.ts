import { readIncrementalOptions } from '../../activities/incremental-cursor';
import { CATALOG, getTable } from '../../klaviyo/catalog';

describe('the late-arrival window of an incremental refresh', () => {
  test('is catalog data: 72 hours for events, none for any other table', () => {
    expect(getTable('events').lateArrivalHours).toBe(72);
    expect(CATALOG.filter((t) => t.lateArrivalHours !== null).map((t) => t.name)).toEqual(['events']);
  });

  test('DATAFLOW_EVENTS_LATE_ARRIVAL_HOURS overrides it; unset or blank leaves the catalog window', () => {
    expect(readIncrementalOptions({})).toEqual({});
    expect(readIncrementalOptions({ DATAFLOW_EVENTS_LATE_ARRIVAL_HOURS: ' ' })).toEqual({});
    expect(readIncrementalOptions({ DATAFLOW_EVENTS_LATE_ARRIVAL_HOURS: '24' })).toEqual({ lateArrivalHours: 24 });
    expect(readIncrementalOptions({ DATAFLOW_EVENTS_LATE_ARRIVAL_HOURS: '0' })).toEqual({ lateArrivalHours: 0 });
    expect(() => readIncrementalOptions({ DATAFLOW_EVENTS_LATE_ARRIVAL_HOURS: '-1' })).toThrow(/0 or more/);
  });
});
