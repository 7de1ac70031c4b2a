import { performance } from 'node:perf_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dataset } from '../../sandbox/data/dataset';
import { deliver } from '../../sandbox/http/delivery';
import { LatencyModel, parseDurationMs } from '../../sandbox/http/latency';
import { RequestLog } from '../../sandbox/http/request-log';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import { get } from './http-helpers';

describe('the latency model', () => {
  test('is off by default and costs base + per-KB without jitter', () => {
    const model = new LatencyModel(1);
    expect(model.delayFor(1_000_000)).toBe(0);
    model.set({ baseMs: 300, perKbMs: 0.5 });
    expect(model.delayFor(0)).toBe(300);
    expect(model.delayFor(2048)).toBe(301);
  });

  test('jitter is seeded, centred on the model (median) and spread by sigma', () => {
    const draws = (seed: number) => {
      const model = new LatencyModel(seed);
      model.set({ baseMs: 300, jitter: 0.25 });
      return Array.from({ length: 2001 }, () => model.delayFor(0));
    };
    expect(draws(7)).toEqual(draws(7));
    expect(draws(7)).not.toEqual(draws(8));
    const sorted = [...draws(7)].sort((a, b) => a - b);
    const median = sorted[1000];
    expect(median).toBeGreaterThan(285);
    expect(median).toBeLessThan(315);
    // About 68% of log-normal draws fall within e^±σ of the median.
    const within = sorted.filter((d) => d > 300 * Math.exp(-0.25) && d < 300 * Math.exp(0.25)).length / sorted.length;
    expect(within).toBeGreaterThan(0.63);
    expect(within).toBeLessThan(0.73);
  });

  test("counts from the request's arrival: the time the sandbox took to answer is inside the model's, not added", async () => {
    const latency = new LatencyModel(1);
    latency.set({ baseMs: 600 });
    const log = new RequestLog();
    const ctx = { latency, log, dataset: { state: { clockSec: 0 } } as unknown as Dataset };
    const res = { writeHead: () => res, end: () => undefined } as unknown as ServerResponse;
    const facts = { time: new Date().toISOString(), method: 'GET', path: '/api/events', query: '', table: 'events' };
    const send = async (tookMs: number) => {
      const now = performance.now();
      const answer = { status: 200, body: Buffer.from('{}'), headers: {}, fault: null };
      await deliver(ctx, {} as IncomingMessage, res, answer, { ...facts, page: 1, cursor: null }, now - tookMs);
      return performance.now() - now;
    };
    // Made in 400 ms: held back for the 200 ms left. Made in 900 ms, past the model's time: sent at once.
    const rest = await send(400);
    expect(rest).toBeGreaterThanOrEqual(190);
    expect(rest).toBeLessThan(450);
    expect(await send(900)).toBeLessThan(150);
    // The log tells the answer's whole time, from its arrival.
    expect(log.entries().map((e) => e.durationMs)).toEqual([expect.any(Number), expect.any(Number)]);
    expect(log.entries()[0].durationMs).toBeGreaterThanOrEqual(590);
  });

  test('durations read as a command line writes them', () => {
    expect(parseDurationMs('300ms')).toBe(300);
    expect(parseDurationMs('1.5s')).toBe(1500);
    expect(parseDurationMs('250')).toBe(250);
    expect(() => parseDurationMs('fast')).toThrow(/300ms/);
  });
});

describe('a sandbox with latency', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 3, sizes: { profiles: 50, events: 50 }, rateLimits: { enabled: false } });
  });
  afterAll(() => sandbox.close());

  const timed = async (path: string) => {
    const started = performance.now();
    const answer = await get(sandbox, path);
    expect(answer.status).toBe(200);
    return performance.now() - started;
  };

  test('holds answers back once set live through the admin API, and no longer once set to {}', async () => {
    // About time, so the delay is long (1 s) and the undelayed bound is half of it: an answer on a loaded two-core
    // machine takes tens of milliseconds, so the two cases stay apart with ten times the room.
    expect(await timed('/api/profiles')).toBeLessThan(500);
    const put = await fetch(`${sandbox.baseUrl}/__sandbox/latency`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ baseMs: 1_000 }),
    });
    expect(await put.json()).toEqual({ baseMs: 1_000, perKbMs: 0, jitter: 0 });
    expect(await timed('/api/profiles')).toBeGreaterThanOrEqual(995);
    sandbox.setLatency({});
    expect(await timed('/api/profiles')).toBeLessThan(500);
  });

  test('refuses settings it cannot use, in words', async () => {
    const put = await fetch(`${sandbox.baseUrl}/__sandbox/latency`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ baseMs: -5 }),
    });
    expect(put.status).toBe(400);
    expect(((await put.json()) as { error: string }).error).toMatch(/baseMs/);
  });
});
