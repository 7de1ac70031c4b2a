/** What a numeric setting of the environment must be: a whole number or any, and its least value. */
export interface EnvNumberRule {
  /** Only whole numbers. @default false */
  whole?: boolean;
  /** The least value allowed… */
  min: number;
  /** …or, when set, the value it must be above (not allowed itself). */
  above?: boolean;
  /** What the number counts, for the error: e.g. `hours`. */
  unit?: string;
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
    (rule.above ? value > rule.min : value >= rule.min);
  if (fits) return value;
  const kind = `${rule.whole ? 'a whole number' : 'a number'}${rule.unit ? ` of ${rule.unit}` : ''}`;
  const range = rule.above ? `above ${rule.min}` : `${rule.min} or more`;
  throw new Error(`${name} must be ${kind}, ${range}, not "${text}".`);
}

/** A whole number of 1 or more from `env[name]`; `fallback` when it is unset or blank. */
export function readPositiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  return readEnvNumber(env, name, { whole: true, min: 1 }) ?? fallback;
}
