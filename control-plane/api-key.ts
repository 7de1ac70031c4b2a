import { InvalidApiKeyFormatError } from './errors';

const PREFIX = 'pk_';
/** Real private keys carry 34 characters after `pk_`; fewer than 8 would make the 4-character hint reveal half. */
const MIN_SECRET_LENGTH = 8;
const MAX_SECRET_LENGTH = 128;

/**
 * Checks that a string looks like a Klaviyo private API key (`pk_` + letters and digits). The key is
 * never echoed: errors describe what is wrong with it, not what it is. Returns the key unchanged.
 */
export function validateApiKeyFormat(apiKey: string): string {
  if (apiKey.length === 0) throw new InvalidApiKeyFormatError('The API key is empty.');
  if (/\s/.test(apiKey)) {
    throw new InvalidApiKeyFormatError(
      'The API key contains whitespace (a space, tab or line break), probably from copying it; ' +
        'paste it again without the surrounding blanks.',
    );
  }
  if (!apiKey.startsWith(PREFIX)) {
    throw new InvalidApiKeyFormatError(
      'The API key is not a Klaviyo private key: private keys start with "pk_" ' +
        '(a 6-character public key or site id cannot read data).',
    );
  }
  const secret = apiKey.slice(PREFIX.length);
  if (!/^[A-Za-z0-9]*$/.test(secret)) {
    throw new InvalidApiKeyFormatError(
      'The API key contains characters other than letters and digits after "pk_"; check that it was copied whole.',
    );
  }
  if (secret.length < MIN_SECRET_LENGTH || secret.length > MAX_SECRET_LENGTH) {
    throw new InvalidApiKeyFormatError(
      `The API key has ${secret.length} characters after "pk_"; Klaviyo private keys have 34. ` +
        'Check that it was copied whole.',
    );
  }
  return apiKey;
}

/** The last 4 characters, stored beside the encrypted key so the CLI can show which key is set. */
export function apiKeyHint(apiKey: string): string {
  return apiKey.slice(-4);
}

/** How a key is shown anywhere a person reads: `pk_…abcd`. */
export function maskApiKey(hint: string): string {
  return `${PREFIX}…${hint}`;
}
