import { maskApiKey, redactApiKey, redactSecrets } from '../../secrets/api-key';

const key = 'pk_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6wxyz';

describe('maskApiKey', () => {
  it('shows the pk_ prefix and the last four characters of a real-length key', () => {
    expect(maskApiKey(key)).toBe('pk_…wxyz');
  });

  it('shows no characters of a key too short to hide', () => {
    expect(maskApiKey('pk_short1')).toBe('pk_…');
  });
});

describe('redactApiKey', () => {
  it('replaces every occurrence of the key with its mask', () => {
    expect(redactApiKey(`bad key ${key}, again ${key}`, key)).toBe('bad key pk_…wxyz, again pk_…wxyz');
  });

  it('masks anything shaped like a private key even when it is not the given key', () => {
    const other = 'pk_' + 'Z'.repeat(30) + '9876';
    expect(redactApiKey(`server echoed ${other}`)).toBe('server echoed pk_…9876');
  });
});

describe('redactSecrets', () => {
  it('cuts every occurrence of each secret out, and ignores empty ones', () => {
    expect(redactSecrets(`a ${key} b hunter2 ${key}`, ['', key, 'hunter2'])).toBe(
      'a [redacted] b [redacted] [redacted]',
    );
  });
});
