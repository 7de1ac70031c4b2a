import { KLAVIYO_REVISION } from '../../klaviyo/catalog';
import { KlaviyoClient } from '../../klaviyo/klaviyo-client';
import { revisionNoticeOf } from '../../klaviyo/revision-notice';
import { startSandbox, type Sandbox } from '../../sandbox/server';

/**
 * The client sends its pinned revision; when Klaviyo's answers mark it deprecated (Deprecation and Sunset headers),
 * the client says so once, in words a run can show as a notice.
 */

let current: Sandbox;
let yearLater: Sandbox;

beforeAll(async () => {
  const options = { seed: 3, sizes: { profiles: 10, events: 10 }, rateLimits: { enabled: false } };
  [current, yearLater] = await Promise.all([
    startSandbox(options),
    startSandbox({ ...options, revisionsAsOf: '2027-08-01' }),
  ]);
});

afterAll(() => Promise.all([current.close(), yearLater.close()]));

function clientOf(sandbox: Sandbox): KlaviyoClient {
  return new KlaviyoClient({ apiKey: sandbox.keys.full, baseUrl: sandbox.baseUrl, rateLimits: { enabled: false } });
}

test('no notice while the pinned revision is stable', async () => {
  const client = clientOf(current);
  try {
    await client.getAccount();
    expect(client.revisionNotice()).toBeUndefined();
  } finally {
    client.close();
  }
});

test('a notice naming the revision and its retirement once Klaviyo says it is deprecated', async () => {
  const client = clientOf(yearLater);
  try {
    expect(client.revisionNotice()).toBeUndefined();
    await client.getAccount();
    expect(client.revisionNotice()).toBe(
      `Klaviyo says API revision ${KLAVIYO_REVISION}, which this version of klaviyo-dataflows uses, is deprecated and ` +
        'retires on 2028-07-15; upgrade klaviyo-dataflows to a release that uses a newer revision.',
    );
  } finally {
    client.close();
  }
});

test('a Deprecation header without a Sunset still gives a notice; none or "false" gives none', () => {
  expect(revisionNoticeOf('2026-07-15', { deprecation: '@1784073600' })).toContain('is deprecated;');
  expect(revisionNoticeOf('2026-07-15', {})).toBeUndefined();
  expect(revisionNoticeOf('2026-07-15', { deprecation: 'false' })).toBeUndefined();
});
