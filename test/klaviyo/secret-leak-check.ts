import { inspect } from 'node:util';

/**
 * Every text form of an error a user, a log or Temporal could see, its causes included: none may
 * contain the API key.
 */
export function textsOfError(err: unknown): string[] {
  const texts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 10; depth++) {
    texts.push(String(current));
    if (current instanceof Error) texts.push(current.stack ?? '', current.message);
    texts.push(JSON.stringify(current) ?? '');
    texts.push(inspect(current, { depth: 10, showHidden: true }));
    current = (current as { cause?: unknown }).cause;
  }
  return texts;
}

export function expectKeyNowhereIn(err: unknown, apiKey: string): void {
  const leaking = textsOfError(err).filter((text) => text.includes(apiKey));
  expect(leaking).toEqual([]);
}
