import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { findTable } from '../../klaviyo/catalog';
import type { Sandbox } from '../server';
import { faultConfigSchema } from './faults';
import { latencyConfigSchema } from './latency';

/**
 * The sandbox's own HTTP API under `/__sandbox/` (no Klaviyo auth), for tests that run it in another process:
 *
 * - `GET  /__sandbox/info`                    base URL, keys, clock, sizes, settings
 * - `GET|PUT /__sandbox/faults`               FaultConfig (PUT replaces; `{}` = none)
 * - `GET|PUT /__sandbox/rate-limits`          `{enabled, scale?, reportsPerDay?, reportDaySeconds?}` (PUT replaces):
 *                                             `reportsPerDay` (default 225) is the Reporting API's daily quota,
 *                                             counted even with `enabled: false`; `reportDaySeconds` (default
 *                                             86400) the length of its rolling day in real seconds, so a test's
 *                                             day can last 20 s; `advance` moves the quota's clock too. Requests
 *                                             already counted stay counted. `GET info` shows `reportQuota`
 *                                             `{limit, daySeconds, used, oldestLeavesInSeconds}`.
 * - `GET|PUT /__sandbox/latency`              `{baseMs?, perKbMs?, jitter?, seed?}` (PUT replaces; `{}` = off)
 * - `POST /__sandbox/advance`                 `{changeProfiles?, addEvents?, backdatedEvents?, backdateWindowHours?,
 *                                              futureEvents?, futureHours?, hours?}`
 * - `POST /__sandbox/delete`                  `{table, ids}` → `{table, deleted}`: records leave every listing
 * - `POST /__sandbox/keys`                    `{scopes: string[] | 'full' | 'read-only'}` → `{key}`
 * - `DELETE /__sandbox/keys/<key>`            revoke
 * - `GET  /__sandbox/requests`                `{entries, counts}`; `GET /__sandbox/requests/counts`
 * - `POST /__sandbox/requests/reset`          clear the log and counters
 * - `GET  /__sandbox/expected/<table>`        `{table, count}`
 * - `GET  /__sandbox/expected/<table>/ids`    ids, one per line (streamed)
 */
export interface AdminContext {
  sandbox: Sandbox;
  info(): Record<string, unknown>;
}

const rateLimitsSchema = z
  .object({
    enabled: z.boolean(),
    scale: z.number().positive().optional(),
    reportsPerDay: z.number().int().min(0).optional(),
    reportDaySeconds: z.number().positive().optional(),
  })
  .strict();
const advanceSchema = z
  .object({
    changeProfiles: z.number().int().min(0).optional(),
    addEvents: z.number().int().min(0).optional(),
    backdatedEvents: z.number().int().min(0).optional(),
    backdateWindowHours: z.number().positive().optional(),
    futureEvents: z.number().int().min(0).optional(),
    futureHours: z.number().positive().optional(),
    hours: z.number().min(0).optional(),
  })
  .strict();
const deleteSchema = z
  .object({ table: z.string().min(1), ids: z.array(z.string().min(1)).min(1).max(10_000) })
  .strict();
const keySchema = z
  .object({ scopes: z.union([z.array(z.string()).min(1), z.literal('full'), z.literal('read-only')]) })
  .strict();

/** The settings read with GET and replaced with PUT, each answered with what `info` shows of it afterwards. */
const SETTINGS = {
  faults: {
    shownAs: 'faults',
    put: (sandbox: Sandbox, body: unknown) => sandbox.setFaults(parse(faultConfigSchema, body)),
  },
  'rate-limits': {
    shownAs: 'rateLimits',
    put: (sandbox: Sandbox, body: unknown) => sandbox.setRateLimits(parse(rateLimitsSchema, body)),
  },
  latency: {
    shownAs: 'latency',
    put: (sandbox: Sandbox, body: unknown) => sandbox.setLatency(parse(latencyConfigSchema, body)),
  },
} as const;
type SettingName = keyof typeof SETTINGS;

class AdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function handleAdmin(ctx: AdminContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
  const parts = url.pathname
    .replace(/^\/__sandbox\/?/, '')
    .replace(/\/$/, '')
    .split('/')
    .map(decodeURIComponent);
  const route = `${req.method} ${parts[0] ?? ''}`;
  const sandbox = ctx.sandbox;
  try {
    const setting = Object.hasOwn(SETTINGS, parts[0] ?? '') ? SETTINGS[parts[0] as SettingName] : undefined;
    if (setting && (req.method === 'GET' || req.method === 'PUT')) {
      if (req.method === 'PUT') setting.put(sandbox, await readJson(req));
      return json(res, 200, ctx.info()[setting.shownAs]);
    }
    switch (route) {
      case 'GET info':
        return json(res, 200, ctx.info());
      case 'POST advance':
        return json(res, 200, sandbox.advance(parse(advanceSchema, await readJson(req))));
      case 'POST delete': {
        const body = parse(deleteSchema, await readJson(req));
        if (!findTable(body.table)) throw new AdminError(404, `Unknown table "${body.table}"`);
        return json(res, 200, sandbox.deleteRecords(body.table, body.ids));
      }
      case 'POST keys': {
        const body = parse(keySchema, await readJson(req));
        try {
          return json(res, 201, { key: sandbox.createKey(body.scopes) });
        } catch (err) {
          throw new AdminError(400, (err as Error).message);
        }
      }
      case 'DELETE keys':
        if (!parts[1]) throw new AdminError(400, 'DELETE /__sandbox/keys/<key>');
        sandbox.revokeKey(parts[1]);
        res.writeHead(204).end();
        return;
      case 'GET requests':
        if (parts[1] === 'counts') return json(res, 200, sandbox.requestCounts());
        return json(res, 200, { entries: sandbox.requestLog(), counts: sandbox.requestCounts() });
      case 'POST requests':
      case 'DELETE requests':
        if (route === 'POST requests' && parts[1] !== 'reset') break;
        sandbox.resetRequestLog();
        res.writeHead(204).end();
        return;
      case 'GET expected': {
        const table = parts[1];
        if (!table || !findTable(table)) throw new AdminError(404, `Unknown table "${table ?? ''}"`);
        if (parts[2] === 'ids') return streamIds(res, sandbox.expectedIds(table));
        return json(res, 200, { table, count: sandbox.expectedCount(table) });
      }
    }
    throw new AdminError(404, `No admin route ${req.method} ${url.pathname}`);
  } catch (err) {
    if (err instanceof AdminError) return json(res, err.status, { error: err.message });
    if (err instanceof RangeError) return json(res, 400, { error: err.message });
    console.error('sandbox admin: unexpected error', err);
    return json(res, 500, { error: 'Unexpected sandbox error' });
  }
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) });
  res.end(body);
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new AdminError(400, result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  }
  return result.data;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 1_000_000) throw new AdminError(413, 'Body too large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new AdminError(400, 'Body is not valid JSON');
  }
}

/** Streams ids one per line, honouring back-pressure: a million ids never sit in memory at once. */
async function streamIds(res: ServerResponse, ids: Iterable<string> | AsyncIterable<string>): Promise<void> {
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
  let batch = '';
  for await (const id of ids) {
    batch += id + '\n';
    if (batch.length >= 64 * 1024) {
      const ok = res.write(batch);
      batch = '';
      if (!ok) await new Promise<void>((resolve) => res.once('drain', () => resolve()));
    }
  }
  res.end(batch);
}
