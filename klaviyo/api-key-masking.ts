/**
 * A Klaviyo private key must never reach a message, log line, stack or error cause. These helpers are
 * the only way the client refers to a key in text.
 */

/** Below this length, even four characters would give away too much of the secret. */
const MIN_LENGTH_TO_SHOW_TAIL = 16;

/** Anything shaped like a private key, so text echoed by a server cannot carry one either. */
const PRIVATE_KEY_PATTERN = /pk_[A-Za-z0-9]{6,}/g;

/**
 * A key as a user may see it: `pk_…abcd` (the last four characters only for keys long enough that four
 * characters reveal little; `pk_…` otherwise).
 */
export function maskApiKey(key: string): string {
  const prefix = key.startsWith('pk_') ? 'pk_' : '';
  const tail = key.length >= MIN_LENGTH_TO_SHOW_TAIL ? key.slice(-4) : '';
  return `${prefix}…${tail}`;
}

/** `text` with every occurrence of `key`, and of anything shaped like a private key, masked. */
export function redactApiKey(text: string, key?: string): string {
  let redacted = text;
  if (key && key.length > 0) redacted = redacted.split(key).join(maskApiKey(key));
  return redacted.replace(PRIVATE_KEY_PATTERN, (match) => maskApiKey(match));
}
