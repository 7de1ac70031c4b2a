import { InvalidDataflowInputError } from './errors';

/**
 * Checks that `value` can be stored in a Postgres text column and read back exactly: any Unicode is
 * fine, but not U+0000 (Postgres text cannot hold it) nor an unpaired UTF-16 surrogate (not Unicode,
 * it would come back as U+FFFD). Length is counted in code points, as Postgres' char_length does.
 */
export function checkStorableText(label: string, value: string, maxChars: number): string {
  if (value.includes('\u0000')) {
    throw new InvalidDataflowInputError(`The ${label} contains a NUL character (U+0000), which Postgres cannot store.`);
  }
  if (/\p{Cs}/u.test(value)) {
    throw new InvalidDataflowInputError(`The ${label} contains an unpaired surrogate, which is not valid Unicode.`);
  }
  const length = [...value].length;
  if (length > maxChars) {
    throw new InvalidDataflowInputError(`The ${label} is ${length} characters long; the maximum is ${maxChars}.`);
  }
  return value;
}
