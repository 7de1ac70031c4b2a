import { CATALOG, getTable, slowTierFields } from '../../klaviyo/catalog';
import { KlaviyoBadRequestError } from '../../klaviyo/errors';
import { klaviyoFilter, tablePath, tableQueryString, tableRateLimits } from '../../klaviyo/query';

const profiles = getTable('profiles');

function params(query: string): URLSearchParams {
  return new URLSearchParams(query);
}

describe('tableQueryString', () => {
  it('pushes the selected fields down as a sparse fieldset', () => {
    const query = params(tableQueryString({ table: profiles, fields: ['email', 'updated'] }));
    expect(query.get('fields[profile]')).toBe('email,updated');
  });

  it('asks for additional fields only when one is selected', () => {
    expect(params(tableQueryString({ table: profiles, fields: ['email'] })).has('additional-fields[profile]')).toBe(
      false,
    );
    const query = params(tableQueryString({ table: profiles, fields: ['email', 'subscriptions'] }));
    expect(query.get('additional-fields[profile]')).toBe('subscriptions');
    expect(query.get('fields[profile]')).toBe('email,subscriptions');
  });

  it('sends no fieldset when the selection is left out', () => {
    expect(params(tableQueryString({ table: profiles })).has('fields[profile]')).toBe(false);
  });

  it('asks for the largest page the endpoint allows by default', () => {
    expect(params(tableQueryString({ table: getTable('events') })).get('page[size]')).toBe('1000');
  });

  it('refuses a page size outside the endpoint bounds', () => {
    expect(() => tableQueryString({ table: profiles, pageSize: 101 })).toThrow(KlaviyoBadRequestError);
  });

  it('refuses a field the catalog does not know, naming it', () => {
    expect(() => tableQueryString({ table: profiles, fields: ['email', 'shoe_size'] })).toThrow(/shoe_size/);
  });

  it('accepts dotted paths into a known object field', () => {
    expect(params(tableQueryString({ table: profiles, fields: ['location.city'] })).get('fields[profile]')).toBe(
      'location.city',
    );
  });

  it('refuses a sort the endpoint does not offer', () => {
    expect(() => tableQueryString({ table: profiles, sort: 'first_name' })).toThrow(/cannot sort/);
  });

  it('adds the channel filter campaigns require, ANDed with the caller filter', () => {
    const query = params(
      tableQueryString({
        table: getTable('campaigns'),
        parentId: 'sms',
        filter: klaviyoFilter.greaterThan('updated_at', new Date('2024-01-01T00:00:00Z')),
      }),
    );
    expect(query.get('filter')).toBe(
      "and(equals(messages.channel,'sms'),greater-than(updated_at,2024-01-01T00:00:00Z))",
    );
  });

  it('refuses to read campaigns without a channel', () => {
    expect(() => tableQueryString({ table: getTable('campaigns') })).toThrow(/messages\.channel/);
  });

  it('filters coupon codes by the coupon given as parent id', () => {
    expect(params(tableQueryString({ table: getTable('coupon_codes'), parentId: '10OFF' })).get('filter')).toBe(
      "equals(coupon.id,'10OFF')",
    );
  });
});

describe('tablePath', () => {
  it('substitutes the URL-encoded parent id into a fan-out path', () => {
    expect(tablePath(getTable('list_memberships'), 'Y6 n/R')).toBe('/api/lists/Y6%20n%2FR/profiles');
  });

  it('refuses a fan-out table without a parent id', () => {
    expect(() => tablePath(getTable('list_memberships'))).toThrow(/parent id is required/);
  });
});

describe('tableRateLimits', () => {
  it('counts a plain profiles read against the L tier', () => {
    expect(tableRateLimits(profiles, params('fields[profile]=email'))).toEqual({ burst: 75, steady: 750 });
  });

  it('counts a profiles read with predictive analytics against the slower variant tier', () => {
    const query = tableQueryString({ table: profiles, fields: ['email', 'predictive_analytics'] });
    expect(tableRateLimits(profiles, params(query))).toEqual({ burst: 10, steady: 150 });
  });

  it('finds the variant among several comma-separated values of its parameter', () => {
    const query = 'additional-fields[profile]=subscriptions,predictive_analytics';
    expect(tableRateLimits(profiles, params(query))).toEqual({ burst: 10, steady: 150 });
    expect(tableRateLimits(profiles, params('additional-fields[profile]=subscriptions'))).toEqual({
      burst: 75,
      steady: 750,
    });
  });

  it('names the fields whose selection moves a table to a slower tier, from the catalog variants', () => {
    expect(slowTierFields(profiles)).toEqual(['predictive_analytics']);
    expect(slowTierFields(getTable('events'))).toEqual([]);
    const slowTables = CATALOG.filter((t) => slowTierFields(t).length > 0).map((t) => t.name);
    expect(slowTables).toEqual(['profiles', 'list_memberships']);
  });
});

describe('klaviyoFilter', () => {
  it('quotes strings, leaves datetimes, numbers and booleans bare, and brackets lists', () => {
    expect(klaviyoFilter.equals('email', 'a@b.co')).toBe("equals(email,'a@b.co')");
    expect(klaviyoFilter.greaterOrEqual('datetime', new Date('2024-05-01T10:00:00.250Z'))).toBe(
      'greater-or-equal(datetime,2024-05-01T10:00:00.250Z)',
    );
    expect(klaviyoFilter.lessThan('timestamp', 1700000000)).toBe('less-than(timestamp,1700000000)');
    expect(klaviyoFilter.equals('archived', true)).toBe('equals(archived,true)');
    expect(klaviyoFilter.any('id', ['a', 'b'])).toBe("any(id,['a','b'])");
  });

  it('switches to double quotes for a value with an apostrophe', () => {
    expect(klaviyoFilter.equals('last_name', "O'Neil")).toBe('equals(last_name,"O\'Neil")');
  });
});
