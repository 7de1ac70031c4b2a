import { getTable } from '../../klaviyo/catalog';
import { apiTypeSchema, tablePageSchema, tableResourceSchema } from '../../klaviyo/schemas';

const profile = tableResourceSchema(getTable('profiles'));

function profileWith(attributes: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { type: 'profile', id: '01HZX', attributes, ...extra };
}

describe('apiTypeSchema', () => {
  it('accepts null for a nullable date-time and rejects text that is no date', () => {
    const schema = apiTypeSchema('string(date-time)|null');
    expect(schema.safeParse(null).success).toBe(true);
    expect(schema.safeParse('2022-11-08T00:00:00+00:00').success).toBe(true);
    expect(schema.safeParse('yesterday').success).toBe(false);
  });

  it('rejects null where the type is not nullable', () => {
    expect(apiTypeSchema('string').safeParse(null).success).toBe(false);
  });

  it('rejects a fraction where an integer is declared', () => {
    expect(apiTypeSchema('integer|null').safeParse(1.5).success).toBe(false);
  });

  it('checks the items of an array type', () => {
    const schema = apiTypeSchema('array<string>|null');
    expect(schema.safeParse(['a']).success).toBe(true);
    expect(schema.safeParse([1]).success).toBe(false);
  });

  it('accepts any of the item types of a mixed array', () => {
    expect(apiTypeSchema('array<boolean|integer|number|string>|null').safeParse([true, 1, 1.5, 'x']).success).toBe(
      true,
    );
  });

  it('reads an enum as a string, so a value Klaviyo adds later still loads', () => {
    expect(apiTypeSchema('enum(draft,live)').safeParse('archived').success).toBe(true);
  });
});

describe('tableResourceSchema', () => {
  it('accepts a profile whose coordinates are strings or numbers', () => {
    expect(profile.safeParse(profileWith({ location: { latitude: '51.5', longitude: -0.12 } })).success).toBe(true);
  });

  it('keeps attributes the catalog does not know', () => {
    const parsed = profile.parse(profileWith({ email: 'a@b.co', shoe_size: 42 })) as { attributes: object };
    expect(parsed.attributes).toEqual({ email: 'a@b.co', shoe_size: 42 });
  });

  it('rejects a known attribute of the wrong type', () => {
    expect(profile.safeParse(profileWith({ email: 42 })).success).toBe(false);
  });

  it('rejects a resource of another type than the table', () => {
    expect(profile.safeParse({ type: 'event', id: 'x', attributes: {} }).success).toBe(false);
  });

  it('rejects a resource without an id', () => {
    expect(profile.safeParse({ type: 'profile', attributes: {} }).success).toBe(false);
  });

  it('accepts relationships with one identifier, a list, null, or links only', () => {
    const relationships = {
      a: { data: { type: 'list', id: '1' } },
      b: { data: [{ type: 'segment', id: '2' }] },
      c: { data: null },
      d: { links: { self: 'x', related: 'y' } },
    };
    expect(profile.safeParse(profileWith({}, { relationships })).success).toBe(true);
  });

  it('rejects a relationship whose identifier has no id', () => {
    const relationships = { a: { data: { type: 'list' } } };
    expect(profile.safeParse(profileWith({}, { relationships })).success).toBe(false);
  });
});

describe('tablePageSchema', () => {
  const page = tablePageSchema(getTable('profiles'));

  it('accepts an envelope with unknown top-level keys such as meta hints', () => {
    const body = { data: [profileWith({})], links: { self: 's', next: null }, meta: { agent_hints: {} }, extra: 1 };
    expect(page.safeParse(body).success).toBe(true);
  });

  it('rejects an envelope without a data array', () => {
    expect(page.safeParse({ links: { self: 's' } }).success).toBe(false);
  });
});
