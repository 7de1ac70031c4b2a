import { z } from 'zod/v4';
import { DELETION_SWEEPS } from '../../klaviyo/deletion-sweep';

/**
 * What the API accepts, checked at the edge; inside, the types are trusted. The same schemas describe the
 * request bodies in the OpenAPI document, so the document cannot drift from what is enforced.
 */

const name = z.string().min(1).max(200);
const apiKey = z.string().min(1).max(500).describe('The Klaviyo private API key (pk_…). Write-only: never returned.');
const baseUrl = z.string().max(2000).describe('Another Klaviyo host; default https://a.klaviyo.com.');
const tables = z
  .array(z.object({ name: z.string().min(1).max(100), fields: z.array(z.string().min(1).max(200)).max(500) }).strict())
  .max(500)
  .describe('The tables to import, each with exactly these fields; omitted: every readable table, default fields.');
const deletionSweep = z
  .enum(DELETION_SWEEPS)
  .describe(
    'How often tables refreshed incrementally are checked for rows deleted in Klaviyo when that is not cheap ' +
      '(cheap ones: every run); default daily.',
  );

export const schemas = {
  nameCheckQuery: z.object({ name: z.string().max(200) }).strict(),
  connectBody: z.object({ apiKey, baseUrl: baseUrl.optional() }).strict(),
  reconnectBody: z.object({ apiKey: apiKey.optional(), baseUrl: baseUrl.optional() }).strict(),
  createBody: z
    .object({
      name,
      displayName: z.string().max(200).optional(),
      description: z.string().max(4000).optional(),
      apiKey,
      baseUrl: baseUrl.optional(),
      tables: tables.optional(),
      deletionSweep: deletionSweep.optional(),
    })
    .strict(),
  editBody: z
    .object({
      displayName: z.string().max(200).optional(),
      description: z.string().max(4000).optional(),
      apiKey: apiKey.optional(),
      baseUrl: baseUrl.optional(),
      tables: tables.optional(),
      deletionSweep: deletionSweep.optional(),
    })
    .strict(),
  removeQuery: z
    .object({
      confirm: z.string().max(200).describe('The dataflow name again: deleting needs it.'),
      cascade: z
        .enum(['true', 'false'])
        .optional()
        .describe("true: also drop the objects others built on the dataflow's tables, which else refuse the removal."),
    })
    .strict(),
  runBody: z.object({ full: z.boolean().optional() }).strict(),
  emptyBody: z.object({}).strict(),
  retryBody: z
    .object({
      tables: z
        .array(z.string().min(1).max(100))
        .max(100)
        .optional()
        .describe('The failed tables to extract again; omitted or empty: every failed one.'),
    })
    .strict(),
  historyQuery: z.object({ limit: z.coerce.number().int().min(1).max(500).optional() }).strict(),
  previewQuery: z.object({ limit: z.coerce.number().int().min(1).max(500).optional() }).strict(),
  scheduleBody: z.union([
    z.object({ cron: z.string().min(1).max(200).describe('5 fields, UTC') }).strict(),
    z.object({ every: z.string().min(1).max(50).describe('e.g. 30m, 6h, 1d') }).strict(),
  ]),
} as const;

export type TableChoiceInput = z.infer<typeof tables>;
