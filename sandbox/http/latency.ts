import { z } from 'zod';
import { hash32, saltOf, unit } from '../random';

/**
 * A model of the time Klaviyo's answers take over the internet: every API answer takes
 * `baseMs + perKbMs × size in KB` from the request's arrival, times a seeded log-normal jitter whose median is 1
 * (so `baseMs` is the median of an empty answer); the time the sandbox took to make it is inside that, not added
 * (http/delivery.ts). Off by default: `baseMs` and `perKbMs` 0.
 *
 * The figures a benchmark uses are assumptions, not measurements of Klaviyo: 300 ms median per answer (a
 * request crossing an ocean plus Klaviyo's own work on a page of a large account), 100 ms (same region) and
 * 1,000 ms (a slow page of a heavy query), 0.5 ms per KB (a 1 MB page takes half a second more: ~16 Mbit/s
 * for one stream), jitter σ 0.25 (about two answers in three within ±25% of the median).
 */
export interface LatencyConfig {
  /** Delay of an empty answer at the median. @default 0 */
  baseMs: number;
  /** Delay added per 1,024 bytes of body. @default 0 */
  perKbMs: number;
  /** σ of the log-normal factor (0: every answer takes exactly the model's time). @default 0 */
  jitter: number;
  /** @default the sandbox seed */
  seed?: number;
}

export const latencyConfigSchema = z
  .object({
    baseMs: z.number().min(0).max(120_000).optional(),
    perKbMs: z.number().min(0).max(10_000).optional(),
    jitter: z.number().min(0).max(3).optional(),
    seed: z.number().int().optional(),
  })
  .strict();

export type LatencyUpdate = z.infer<typeof latencyConfigSchema>;

export class LatencyModel {
  private config: LatencyConfig = { baseMs: 0, perKbMs: 0, jitter: 0 };
  private counter = 0;

  constructor(private readonly defaultSeed: number) {}

  get current(): LatencyConfig {
    return { ...this.config };
  }

  get enabled(): boolean {
    return this.config.baseMs > 0 || this.config.perKbMs > 0;
  }

  /** Replaces the settings (missing ones become 0) and restarts the jitter sequence. */
  set(update: LatencyUpdate): void {
    const parsed = latencyConfigSchema.parse(update);
    this.config = {
      baseMs: parsed.baseMs ?? 0,
      perKbMs: parsed.perKbMs ?? 0,
      jitter: parsed.jitter ?? 0,
      ...(parsed.seed === undefined ? {} : { seed: parsed.seed }),
    };
    this.counter = 0;
  }

  /** How long to hold back the next answer, of `bytes` bytes. */
  delayFor(bytes: number): number {
    const { baseMs, perKbMs, jitter } = this.config;
    if (baseMs <= 0 && perKbMs <= 0) return 0;
    const model = baseMs + (perKbMs * bytes) / 1024;
    if (jitter <= 0) return model;
    const seed = this.config.seed ?? this.defaultSeed;
    const n = this.counter++;
    // Box–Muller from two seeded uniforms in (0, 1].
    const u1 = 1 - unit(hash32(seed, saltOf('latency-1'), n));
    const u2 = unit(hash32(seed, saltOf('latency-2'), n));
    const normal = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    return model * Math.exp(jitter * normal);
  }
}

/** `300ms`, `1.5s`, `300` (milliseconds): a duration from a command line, in ms. */
export function parseDurationMs(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$/.exec(text);
  if (!match) throw new RangeError(`"${text}" is not a duration; write e.g. 300ms or 1.5s`);
  const value = Number(match[1]);
  return match[2] === 's' ? value * 1000 : value;
}
