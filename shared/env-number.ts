/** What a numeric setting of the environment must be: a whole number or any, and its least value. */
export interface EnvNumberRule {
  /** Only whole numbers. @default false */
  whole?: boolean;
  /** The least value allowed… */
  min: number;
  /** …or, when set, the value it must be above (not allowed itself). */
  above?: boolean;
  /** The greatest value allowed. @default none */
  max?: number;
  /** What the number counts, for the error: e.g. `hours`. */
  unit?: string;
  /** What it is, for the error, instead of "a (whole) number (of `unit`)": e.g. `a port number`. */
  what?: string;
}

/**
 * The number in `env[name]`, or undefined when it is unset or blank.
 * @throws Error naming the variable, what it must be and the text it holds, when that is not such a number
 */
export function readEnvNumber(env: NodeJS.ProcessEnv, name: string, rule: EnvNumberRule): number | undefined {
  const text = env[name]?.trim();
  if (!text) return undefined;
  const value = Number(text);
  const fits =
    Number.isFinite(value) &&
    (!rule.whole || Number.isInteger(value)) &&
    (rule.above ? value > rule.min : value >= rule.min) &&
    (rule.max === undefined || value <= rule.max);
  if (fits) return value;
  const kind = rule.what ?? `${rule.whole ? 'a whole number' : 'a number'}${rule.unit ? ` of ${rule.unit}` : ''}`;
  const lower = rule.above ? `above ${rule.min}` : `${rule.min} or more`;
  const range =
    rule.max === undefined ? lower : rule.above ? `${lower}, up to ${rule.max}` : `from ${rule.min} to ${rule.max}`;
  throw new Error(`${name} must be ${kind}, ${range}, not "${text}".`);
}

/** A whole number of 1 or more from `env[name]`; `fallback` when it is unset or blank. */
export function readPositiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  return readEnvNumber(env, name, { whole: true, min: 1 }) ?? fallback;
}
