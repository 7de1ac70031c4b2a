import { UserInputError } from '../shared/user-input-error';

/**
 * Everything that touches a Klaviyo private key as text: its format check, the hint stored beside it, the one way
 * it is shown to a person (`pk_…abcd`) and the redaction that keeps it out of messages, logs, stacks and error
 * causes. A key must never reach any of those in clear.
 */

const PREFIX = 'pk_';
/** Real private keys carry 34 characters after `pk_`; fewer than 8 would make the 4-character hint reveal half. */
const MIN_SECRET_LENGTH = 8;
const MAX_SECRET_LENGTH = 128;
/** Below this length, even four characters of a key would give away too much of the secret. */
const MIN_LENGTH_TO_SHOW_TAIL = 16;

/** Anything shaped like a private key, so text echoed by a server cannot carry one either. */
export const PRIVATE_KEY_PATTERN = /pk_[A-Za-z0-9]{6,}/g;

/**
 * A key that is not shaped like a Klaviyo private key. A request the user can fix: the CLI exits with status 2 and
 * the console answers 400, with the code `InvalidApiKeyFormat` (the control plane throws its own
 * `InvalidApiKeyFormatError` with the same words).
 */
export class ApiKeyFormatError extends UserInputError {
  constructor(message: string) {
    super(message, 'InvalidApiKeyFormat');
    this.name = 'ApiKeyFormatError';
  }
}

/**
 * What is wrong with a string as a Klaviyo private API key (`pk_` + letters and digits), or undefined when nothing
 * is. The words describe the problem, never the key.
 */
export function apiKeyFormatProblem(apiKey: string): string | undefined {
  if (apiKey.length === 0) return 'The API key is empty.';
  if (/\s/.test(apiKey)) {
    return (
      'The API key contains whitespace (a space, tab or line break), probably from copying it; ' +
      'paste it again without the surrounding blanks.'
    );
  }
  if (!apiKey.startsWith(PREFIX)) {
    return (
      'The API key is not a Klaviyo private key: private keys start with "pk_" ' +
      '(a 6-character public key or site id cannot read data).'
    );
  }
  const secret = apiKey.slice(PREFIX.length);
  if (!/^[A-Za-z0-9]*$/.test(secret)) {
    return 'The API key contains characters other than letters and digits after "pk_"; check that it was copied whole.';
  }
  if (secret.length < MIN_SECRET_LENGTH || secret.length > MAX_SECRET_LENGTH) {
    return (
      `The API key has ${secret.length} characters after "pk_"; Klaviyo private keys have 34. ` +
      'Check that it was copied whole.'
    );
  }
  return undefined;
}

/** The key unchanged when it looks like a Klaviyo private key. @throws ApiKeyFormatError, never echoing the key */
export function validateApiKeyFormat(apiKey: string): string {
  const problem = apiKeyFormatProblem(apiKey);
  if (problem !== undefined) throw new ApiKeyFormatError(problem);
  return apiKey;
}

/** The last 4 characters, stored beside the encrypted key so the CLI can show which key is set. */
export function apiKeyHint(apiKey: string): string {
  return apiKey.slice(-4);
}

/**
 * How a key is shown anywhere a person reads: `pk_…abcd`. Given the key itself, the last four characters appear only
 * when the key is long enough that four reveal little (`pk_…` otherwise), and the `pk_` only when the key has it.
 * Where only the stored hint is at hand (a saved dataflow), pass `{ hint }`: it is shown after `pk_…` as it is.
 */
export function maskApiKey(key: string | { hint: string }): string {
  if (typeof key !== 'string') return `${PREFIX}…${key.hint}`;
  const prefix = key.startsWith(PREFIX) ? PREFIX : '';
  const tail = key.length >= MIN_LENGTH_TO_SHOW_TAIL ? apiKeyHint(key) : '';
  return `${prefix}…${tail}`;
}

/** `text` with every occurrence of `key`, and of anything shaped like a private key, masked. */
export function redactApiKey(text: string, key?: string): string {
  let redacted = text;
  if (key && key.length > 0) redacted = redacted.split(key).join(maskApiKey(key));
  return redacted.replace(PRIVATE_KEY_PATTERN, (match) => maskApiKey(match));
}

/** `text` with every occurrence of each of `secrets` (keys, passwords: anything not to be shown at all) cut out. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  return secrets.reduce((t, s) => (s ? t.split(s).join('[redacted]') : t), text);
}
