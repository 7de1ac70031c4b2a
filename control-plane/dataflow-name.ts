import { InvalidDataflowNameError } from './errors';

/**
 * The longest dataflow name. Its lower-cased form is the warehouse schema name, and Postgres keeps
 * 63 bytes of an identifier; 40 leaves room for prefixes and suffixes derived from it.
 */
export const MAX_DATAFLOW_NAME_LENGTH = 40;

/** How much of an invalid name an error message repeats. */
const SHOWN_NAME_CHARS = 60;

/** Schema names a dataflow may never take: `public` is every database's default schema. */
const RESERVED_NAMES = new Set(['public']);

/**
 * Checks a dataflow name: starts with an ASCII letter, then ASCII letters and digits only, at most
 * {@link MAX_DATAFLOW_NAME_LENGTH} characters. Throws an {@link InvalidDataflowNameError} naming the
 * first problem precisely; returns the name unchanged.
 */
export function validateDataflowName(name: string): string {
  if (name.length === 0) throw new InvalidDataflowNameError('empty', 'The dataflow name is empty.');
  const chars = [...name];
  // Echo a long name cut short: a pasted 10,000-character "name" must not become a 10,000-character error.
  const shown = JSON.stringify(
    chars.length > SHOWN_NAME_CHARS ? `${chars.slice(0, SHOWN_NAME_CHARS).join('')}…` : name,
  );
  const first = chars[0];
  if (first >= '0' && first <= '9') {
    throw new InvalidDataflowNameError(
      'starts-with-digit',
      `The dataflow name ${shown} starts with a digit; it must start with a letter (a-z, A-Z).`,
    );
  }
  for (const char of chars) {
    if (isAsciiLetterOrDigit(char)) continue;
    if (char === ' ') {
      throw new InvalidDataflowNameError(
        'contains-space',
        `The dataflow name ${shown} contains a space; use letters and digits only, e.g. ${shown.replace(/ /g, '')}.`,
      );
    }
    if (/\s/u.test(char)) {
      throw new InvalidDataflowNameError(
        'contains-whitespace',
        `The dataflow name ${shown} contains whitespace (${JSON.stringify(char)}); use letters and digits only.`,
      );
    }
    if (/\p{L}/u.test(char)) {
      throw new InvalidDataflowNameError(
        'non-ascii-letter',
        `The dataflow name ${shown} contains the non-ASCII letter "${char}"; only the letters a-z and A-Z and the digits 0-9 are allowed.`,
      );
    }
    throw new InvalidDataflowNameError(
      chars[0] === char ? 'starts-with-non-letter' : 'contains-character',
      `The dataflow name ${shown} contains ${JSON.stringify(char)}; only the letters a-z and A-Z and the digits 0-9 are allowed.`,
    );
  }
  if (name.length > MAX_DATAFLOW_NAME_LENGTH) {
    throw new InvalidDataflowNameError(
      'too-long',
      `The dataflow name ${shown} is ${name.length} characters long; the maximum is ${MAX_DATAFLOW_NAME_LENGTH}.`,
    );
  }
  if (RESERVED_NAMES.has(name.toLowerCase())) {
    throw new InvalidDataflowNameError(
      'reserved',
      `The dataflow name ${shown} is reserved: the warehouse schema "${name.toLowerCase()}" belongs to Postgres.`,
    );
  }
  return name;
}

/** The warehouse schema of a dataflow: its name in lower case (a valid, unquoted-safe identifier). */
export function warehouseSchemaName(dataflowName: string): string {
  return validateDataflowName(dataflowName).toLowerCase();
}

function isAsciiLetterOrDigit(char: string): boolean {
  return (char >= 'a' && char <= 'z') || (char >= 'A' && char <= 'Z') || (char >= '0' && char <= '9');
}
