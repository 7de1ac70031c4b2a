import { performance } from 'node:perf_hooks';
import { startSandbox } from './server';

/**
 * Measures a complete read of the events table through HTTP, following `links.next` like a loader would:
 * `npx tsx sandbox/measure-full-read.ts [events] [pageSize]` (defaults: 1,000,000 events, 1000 per page).
 */
async function main(): Promise<void> {
  const events = Number(process.argv[2] ?? 1_000_000);
  const pageSize = Number(process.argv[3] ?? 1000);
  const startup = performance.now();
  const sandbox = await startSandbox({
    seed: 42,
    sizes: { events, profiles: 100_000 },
    rateLimits: { enabled: false },
  });
  const headers = { Authorization: `Klaviyo-API-Key ${sandbox.keys.full}`, revision: '2026-07-15' };
  try {
    const started = performance.now();
    let url: string | null = `${sandbox.baseUrl}/api/events?page[size]=${pageSize}`;
    let rows = 0;
    let pages = 0;
    let bytes = 0;
    const ids = new Set<string>();
    while (url) {
      const response: Response = await fetch(url, { headers });
      if (response.status !== 200) throw new Error(`HTTP ${response.status} on page ${pages + 1}`);
      const text = await response.text();
      bytes += text.length;
      const body = JSON.parse(text) as { data: { id: string }[]; links: { next?: string } };
      for (const row of body.data) ids.add(row.id);
      rows += body.data.length;
      pages += 1;
      url = body.links.next ?? null;
    }
    const seconds = (performance.now() - started) / 1000;
    const rss = process.memoryUsage().rss / 2 ** 20;
    console.log(
      JSON.stringify({
        events,
        pageSize,
        pages,
        rows,
        distinctIds: ids.size,
        expected: sandbox.expectedCount('events'),
        seconds: Math.round(seconds * 10) / 10,
        rowsPerSecond: Math.round(rows / seconds),
        megabytes: Math.round(bytes / 2 ** 20),
        startupMs: Math.round(started - startup),
        rssMegabytes: Math.round(rss),
      }),
    );
  } finally {
    await sandbox.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
