import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { MasterKeyError, SecretDecryptionError } from '../../control-plane/errors';
import { MASTER_KEY_FILE, SecretBox } from '../../control-plane/secret-box';

const KEY = 'pk_abcdefghijklmnopqrstuvwxyz01234567';

describe('secret box', () => {
  const masterKey = randomBytes(32);
  const box = SecretBox.fromKey(masterKey);
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'secret-box-'));
  });
  afterAll(async () => {
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  test('a sealed key opens to the same key', () => {
    expect(box.open(box.seal(KEY, 'ctx'), 'ctx')).toBe(KEY);
  });

  test('the sealed bytes contain no part of the key', () => {
    const sealed = box.seal(KEY, 'ctx');
    expect(sealed.includes(Buffer.from(KEY.slice(3, 10)))).toBe(false);
    expect(sealed.toString('latin1')).not.toContain('pk_');
  });

  test('sealing twice gives different bytes (a fresh IV each time)', () => {
    expect(box.seal(KEY, 'ctx').equals(box.seal(KEY, 'ctx'))).toBe(false);
  });

  test('a value sealed for one context does not open in another', () => {
    expect(() => box.open(box.seal(KEY, 'dataflow:a'), 'dataflow:b')).toThrow(SecretDecryptionError);
  });

  test('a tampered value does not open', () => {
    const sealed = box.seal(KEY, 'ctx');
    sealed[sealed.length - 1] ^= 1;
    expect(() => box.open(sealed, 'ctx')).toThrow(SecretDecryptionError);
  });

  test('another master key cannot open it, and the error says why without key material', () => {
    const other = SecretBox.fromKey(randomBytes(32));
    let message = '';
    try {
      other.open(box.seal(KEY, 'ctx'), 'ctx');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('cannot be decrypted with this master key');
    expect(message).not.toContain(masterKey.toString('base64'));
  });

  test('printing the box does not print the master key', () => {
    const printed = inspect(box, { showHidden: true, depth: 5 }) + JSON.stringify({ box });
    expect(printed).not.toContain(masterKey.toString('base64'));
    expect(printed).not.toContain(masterKey.toString('hex').slice(0, 16));
  });

  test('DATAFLOW_MASTER_KEY (base64 of 32 bytes) is used when set', async () => {
    const fromEnv = await SecretBox.fromConfig({ dataDir, masterKey: masterKey.toString('base64') });
    expect(fromEnv.open(box.seal(KEY, 'ctx'), 'ctx')).toBe(KEY);
  });

  test('a DATAFLOW_MASTER_KEY of the wrong length is refused without echoing it', async () => {
    const wrong = randomBytes(16).toString('base64');
    const error = await SecretBox.fromConfig({ dataDir, masterKey: wrong }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MasterKeyError);
    expect((error as Error).message).not.toContain(wrong);
  });

  test('without DATAFLOW_MASTER_KEY a 0600 master.key file is created once and reused', async () => {
    const first = await SecretBox.fromConfig({ dataDir, masterKey: undefined });
    const stat = await fs.stat(path.join(dataDir, MASTER_KEY_FILE));
    expect(stat.mode & 0o777).toBe(0o600);
    const second = await SecretBox.fromConfig({ dataDir, masterKey: undefined });
    expect(second.open(first.seal(KEY, 'ctx'), 'ctx')).toBe(KEY);
  });

  test('a master.key file readable by others is refused', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'secret-box-open-'));
    try {
      await fs.writeFile(path.join(dir, MASTER_KEY_FILE), randomBytes(32).toString('base64'), { mode: 0o644 });
      await fs.chmod(path.join(dir, MASTER_KEY_FILE), 0o644);
      await expect(SecretBox.fromConfig({ dataDir: dir, masterKey: undefined })).rejects.toThrow(/chmod 600/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
