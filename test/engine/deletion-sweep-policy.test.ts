import { getTable } from '../../klaviyo/catalog';
import { isCheapSweep, listingPasses, sweepDue, sweepRequests } from '../../klaviyo/deletion-sweep';

/** When a refresh sweeps a table for rows deleted in Klaviyo: cheap ones every run, the others on the cadence. */
describe('deletion sweep policy', () => {
  const now = new Date('2026-03-01T12:00:00Z');
  const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000).toISOString();

  test('a sweep costs a request per full page plus each pass’s last one', () => {
    expect(listingPasses(getTable('campaigns'))).toBe(6);
    expect(listingPasses(getTable('flows'))).toBe(2);
    expect(listingPasses(getTable('profiles'))).toBe(1);
    expect(sweepRequests(getTable('profiles'), 100_000)).toBe(1_001);
    expect(sweepRequests(getTable('lists'), 12)).toBe(2);
  });

  test('cheap: at most 20 requests and 10 seconds of the tier, so small metadata tables are, big data tables not', () => {
    expect(isCheapSweep(getTable('lists'), 190)).toBe(true);
    expect(isCheapSweep(getTable('lists'), 200)).toBe(false);
    expect(isCheapSweep(getTable('campaigns'), 1_400)).toBe(true);
    // Flows are S tier (60/min): 10 requests are its 10 seconds.
    expect(isCheapSweep(getTable('flows'), 400)).toBe(true);
    expect(isCheapSweep(getTable('flows'), 450)).toBe(false);
    expect(isCheapSweep(getTable('profiles'), 3_000)).toBe(false);
    expect(isCheapSweep(getTable('events'), 100_000)).toBe(false);
  });

  test('daily and weekly sweep a table that is not cheap once the cadence has passed, or when never swept', () => {
    const profiles = getTable('profiles');
    const due = (setting: 'daily' | 'weekly', lastSweptAt: string | undefined) =>
      sweepDue({ table: profiles, setting, rows: 100_000, lastSweptAt, now });
    expect(due('daily', hoursAgo(23))).toBe(false);
    expect(due('daily', hoursAgo(24))).toBe(true);
    expect(due('weekly', hoursAgo(24 * 6))).toBe(false);
    expect(due('weekly', hoursAgo(24 * 7))).toBe(true);
    expect(due('daily', undefined)).toBe(true);
  });

  test('cheap tables sweep every run, unless the setting is off; every-run sweeps them all', () => {
    const lists = getTable('lists');
    const profiles = getTable('profiles');
    expect(sweepDue({ table: lists, setting: 'weekly', rows: 12, lastSweptAt: hoursAgo(1), now })).toBe(true);
    expect(sweepDue({ table: lists, setting: 'off', rows: 12, lastSweptAt: undefined, now })).toBe(false);
    expect(sweepDue({ table: profiles, setting: 'every-run', rows: 1e6, lastSweptAt: hoursAgo(0), now })).toBe(true);
    // Rows unknown (a version from before counts were kept): not assumed cheap.
    expect(sweepDue({ table: lists, setting: 'daily', rows: undefined, lastSweptAt: hoursAgo(1), now })).toBe(false);
  });
});
