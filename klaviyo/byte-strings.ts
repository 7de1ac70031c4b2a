import { isUtf8 } from 'node:buffer';

/**
 * Byte strings: a page decoded as Latin-1 (one character per byte) rather than as UTF-8. Every string
 * JSON.parse then makes of it holds the UTF-8 bytes of the text, one character each, and writing the
 * COPY text back out as Latin-1 gives Postgres exactly the bytes Klaviyo sent. Nothing is decoded or
 * re-encoded on the way: decoding UTF-8 into two-byte strings and encoding it again cost a fifth of the
 * worker's CPU on pages with a little non-ASCII text, and two-byte strings take twice the memory.
 *
 * It is exact only where nothing looks inside a string beyond ASCII, so:
 * - a page is read this way only when it is valid UTF-8 (else the usual decoder's U+FFFD replacements
 *   apply) and has no `\u` escape (an escape decodes to a character, not to bytes; it may be U+0000,
 *   which is replaced, or a lone surrogate) — see {@link decodableAsBytes};
 * - the structural parts of JSON, COPY's escapes, `JSON.stringify`'s escapes and every pattern the
 *   checks and coercions match are ASCII, and no UTF-8 byte of a non-ASCII character is below 0x80,
 *   so those see the same thing either way;
 * - what does look further (trimming Unicode spaces, `Date.parse`, messages for people, URLs) turns
 *   the string back into text first with {@link bytesToText}.
 */

const BACKSLASH_U = Buffer.from('\\u');

/** Whether `raw` can be read as byte strings: valid UTF-8 with no `\u` escape. */
export function decodableAsBytes(raw: Buffer): boolean {
  return raw.indexOf(BACKSLASH_U) === -1 && isUtf8(raw);
}

/** `raw` as a byte string: one character (U+0000–U+00FF) per byte. */
export function bytesOf(raw: Buffer): string {
  return raw.toString('latin1');
}

const NON_ASCII = /[^\x00-\x7f]/;

/** Whether `value` has a character beyond ASCII (in a byte string: a byte of a multi-byte character). */
export function hasNonAscii(value: string): boolean {
  return NON_ASCII.test(value);
}

/** The text a byte string holds. */
export function bytesToText(value: string): string {
  return hasNonAscii(value) ? Buffer.from(value, 'latin1').toString('utf8') : value;
}

/** Text as a byte string. */
export function textToBytes(value: string): string {
  return hasNonAscii(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
}

/** A parsed value with every string in it (keys too) turned from bytes back into text. */
export function valueBytesToText<T>(value: T): T {
  if (typeof value === 'string') return bytesToText(value) as T;
  if (Array.isArray(value)) return value.map((element: unknown) => valueBytesToText(element)) as T;
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, element]) => [bytesToText(key), valueBytesToText(element)]),
    ) as T;
  }
  return value;
}
