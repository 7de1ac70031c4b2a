import { startSandbox, type Sandbox } from '../../sandbox/server';
import { collect, firstError, get } from './http-helpers';

/**
 * Klaviyo's revision rules: a revision must be one Klaviyo released; it is stable for a year, deprecated (still
 * served) the next, and retired (410) after two. The sandbox judges them on a fixed day, 2026-10-15 by default, when
 * 2024 revisions and older are retired and 2025 ones deprecated.
 */

let sandbox: Sandbox;
let later: Sandbox;
let listId: string;

beforeAll(async () => {
  [sandbox, later] = await Promise.all([
    startSandbox({ seed: 5, sizes: { profiles: 30, events: 30 }, rateLimits: { enabled: false } }),
    startSandbox({
      seed: 5,
      sizes: { profiles: 30, events: 30 },
      rateLimits: { enabled: false },
      revisionsAsOf: '2027-08-01',
    }),
  ]);
  [listId] = await collect(sandbox.expectedIds('lists'));
});

afterAll(() => Promise.all([sandbox.close(), later.close()]));

describe('revisions', () => {
  test('the current revision, its beta twin and stable older ones are served without a deprecation', async () => {
    for (const revision of ['2026-07-15', '2026-07-15.pre', '2026-04-15', '2026-01-15']) {
      const answer = await get(sandbox, '/api/lists', { revision });
      expect({ revision, status: answer.status, deprecation: answer.headers.get('deprecation') }).toEqual({
        revision,
        status: 200,
        deprecation: null,
      });
    }
  });

  test('a deprecated revision is served, and says so with Deprecation and Sunset headers', async () => {
    const answer = await get(sandbox, `/api/lists/${listId}`, { revision: '2025-04-15' });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('deprecation')).toBe(`@${Date.parse('2026-04-15T00:00:00Z') / 1000}`);
    expect(new Date(answer.headers.get('sunset')!).toISOString()).toBe('2027-04-15T00:00:00.000Z');
  });

  test.each(['2024-10-15', '2023-02-22', '2022-10-17'])(
    'a retired revision (%s) answers 410 in Klaviyo error shape, on lists and single objects alike',
    async (revision) => {
      for (const path of ['/api/profiles', `/api/lists/${listId}`]) {
        const answer = await get(sandbox, path, { revision });
        expect(answer.status).toBe(410);
        expect(answer.headers.get('content-type')).toBe('application/vnd.api+json');
        expect(firstError(answer)).toMatchObject({ status: 410, code: 'gone', source: { parameter: 'revision' } });
        expect(firstError(answer).detail).toContain(`Revision ${revision} was retired`);
      }
    },
  );

  test.each([
    ['a date Klaviyo released nothing on', '2025-05-01', 'not a valid revision'],
    ['a malformed value', 'latest', 'not a valid revision'],
    ['an unknown suffix', '2026-07-15.beta', 'not a valid revision'],
    ['a revision newer than the sandbox serves', '2026-10-15', 'newer than the revisions this sandbox serves'],
    ['a future date', '2027-01-15', 'future revision'],
  ])('%s is a 400 naming the revision', async (_what, revision, words) => {
    const answer = await get(sandbox, '/api/lists', { revision });
    expect(answer.status).toBe(400);
    expect(firstError(answer)).toMatchObject({ code: 'invalid', source: { parameter: 'revision' } });
    expect(firstError(answer).detail).toContain(words);
  });

  test('judged a year later, the pinned revision is deprecated and a 2025 one retired', async () => {
    const current = await get(later, '/api/lists', { revision: '2026-07-15' });
    expect(current.status).toBe(200);
    expect(current.headers.get('deprecation')).toBe(`@${Date.parse('2027-07-15T00:00:00Z') / 1000}`);
    expect(new Date(current.headers.get('sunset')!).toISOString()).toBe('2028-07-15T00:00:00.000Z');
    expect((await get(later, '/api/lists', { revision: '2025-07-15' })).status).toBe(410);
  });

  test('revisionsAsOf must be a day', async () => {
    await expect(startSandbox({ revisionsAsOf: 'next year' })).rejects.toThrow(/revisionsAsOf/);
  });
});
