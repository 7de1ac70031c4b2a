import { reportOf } from '../../client/error-report';
import { checkApiKeyFormat, InvalidApiKeyFormatError } from '../../control-plane/errors';
import { ApiKeyFormatError, apiKeyHint, maskApiKey, validateApiKeyFormat } from '../../secrets/api-key';

const KEY = 'pk_abcdefghijklmnopqrstuvwxyz01234567';
const SECRET_PART = KEY.slice(3, 20);

function rejection(key: string): ApiKeyFormatError {
  try {
    validateApiKeyFormat(key);
  } catch (err) {
    if (err instanceof ApiKeyFormatError) return err;
    throw err;
  }
  throw new Error('the key was accepted');
}

describe('API key format', () => {
  test('a private key of pk_ and 34 letters and digits is accepted', () => {
    expect(validateApiKeyFormat(KEY)).toBe(KEY);
  });

  test.each([
    ['a trailing newline', `${KEY}\n`],
    ['a leading space', ` ${KEY}`],
    ['a space inside', `${KEY.slice(0, 10)} ${KEY.slice(10)}`],
    ['a tab', `${KEY}\t`],
  ])('a key with %s is rejected as containing whitespace, without echoing it', (_label, key) => {
    const err = rejection(key);
    expect(err.message).toMatch(/^The API key contains whitespace/);
    expect(err.message).not.toContain(SECRET_PART);
  });

  test('a public key is rejected as not a private key, without echoing it', () => {
    const err = rejection('AbC123');
    expect(err.message).toContain('start with "pk_"');
    expect(err.message).not.toContain('AbC123');
  });

  test('a key with symbols after pk_ is rejected without echoing it', () => {
    const err = rejection(`${KEY}!`);
    expect(err.message).toContain('other than letters and digits');
    expect(err.message).not.toContain(SECRET_PART);
  });

  test('a truncated key is rejected with its length only', () => {
    expect(rejection('pk_abc').message).toContain('has 3 characters after "pk_"');
  });

  test('the hint is the last 4 characters and the mask shows only them', () => {
    expect(apiKeyHint(KEY)).toBe('4567');
    expect(maskApiKey({ hint: apiKeyHint(KEY) })).toBe('pk_…4567');
  });

  test('the control plane and the CLI or console report a malformed key alike: an input error, InvalidApiKeyFormat', () => {
    const words = rejection('pk_abc').message;
    let controlPlaneError: unknown;
    try {
      checkApiKeyFormat('pk_abc');
    } catch (err) {
      controlPlaneError = err;
    }
    expect(controlPlaneError).toBeInstanceOf(InvalidApiKeyFormatError);
    expect((controlPlaneError as InvalidApiKeyFormatError).message).toBe(words);
    expect(checkApiKeyFormat(KEY)).toBe(KEY);
    const report = { kind: 'input', code: 'InvalidApiKeyFormat', message: words };
    expect(reportOf(controlPlaneError)).toEqual(report);
    expect(reportOf(rejection('pk_abc'))).toEqual(report);
  });
});
