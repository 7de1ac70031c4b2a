import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readConfig, type Config } from '../shared/config';
import { MasterKeyError, SecretDecryptionError } from './errors';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** First byte of every sealed value, so the format can change without guessing. */
const FORMAT_V1 = 1;
export const MASTER_KEY_FILE = 'master.key';

/**
 * AES-256-GCM with a master key that never leaves this object (a private field: not enumerable,
 * not printed by `console.log`, not serialised). Sealed layout: version byte, 12-byte IV, 16-byte
 * tag, ciphertext. The `context` (e.g. the dataflow id) is authenticated data: a sealed key copied
 * to another dataflow's row does not open there.
 */
export class SecretBox {
  readonly #key: Buffer;

  private constructor(key: Buffer) {
    this.#key = key;
  }

  /** A box over a 32-byte key. */
  static fromKey(key: Buffer): SecretBox {
    if (key.length !== KEY_BYTES) throw new MasterKeyError(`The master key must be ${KEY_BYTES} bytes.`);
    return new SecretBox(Buffer.from(key));
  }

  /**
   * The box of this installation: `DATAFLOW_MASTER_KEY` (base64 of 32 bytes) when set, otherwise the
   * 0600 file `master.key` in the data directory, created with a random key on first use.
   */
  static async fromConfig(config: Pick<Config, 'dataDir' | 'masterKey'> = readConfig()): Promise<SecretBox> {
    if (config.masterKey !== undefined)
      return SecretBox.fromKey(decodeMasterKey(config.masterKey, 'DATAFLOW_MASTER_KEY'));
    return SecretBox.fromKey(await readOrCreateKeyFile(path.join(config.dataDir, MASTER_KEY_FILE)));
  }

  seal(plaintext: string, context: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.of(FORMAT_V1), iv, cipher.getAuthTag(), ciphertext]);
  }

  /** Throws a {@link SecretDecryptionError} (without any key material) when the value was not sealed by this key for this context. */
  open(sealed: Buffer, context: string): string {
    if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== FORMAT_V1) {
      throw new SecretDecryptionError('The stored secret is not in a format this version can read.');
    }
    const iv = sealed.subarray(1, 1 + IV_BYTES);
    const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.#key, iv);
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      // Node's message ("unable to authenticate data") helps nobody; the likely cause does.
      throw new SecretDecryptionError(
        'The stored secret cannot be decrypted with this master key: was DATAFLOW_MASTER_KEY or the ' +
          'master.key file changed since it was saved? Restore the old master key, or save the API key again.',
      );
    }
  }

  /** Never print the key, whatever inspects this object. */
  toJSON(): string {
    return '[SecretBox]';
  }
}

function decodeMasterKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  const key = Buffer.from(trimmed, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || key.length !== KEY_BYTES) {
    throw new MasterKeyError(
      `${source} must be the base64 encoding of ${KEY_BYTES} random bytes ` +
        `(e.g. the output of \`openssl rand -base64 32\`); it is not.`,
    );
  }
  return key;
}

async function readOrCreateKeyFile(file: string): Promise<Buffer> {
  try {
    return await readKeyFile(file);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    // 'wx' fails if another process created the file meanwhile; then its key is the one to use.
    await fs.writeFile(file, `${randomBytes(KEY_BYTES).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) {
      throw new MasterKeyError(`Cannot create the master key file ${file}: ${errnoCode(err)}.`);
    }
  }
  return readKeyFile(file);
}

async function readKeyFile(file: string): Promise<Buffer> {
  const stat = await fs.stat(file);
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
    throw new MasterKeyError(
      `The master key file ${file} is accessible to other users (mode ${(stat.mode & 0o777).toString(8)}); ` +
        `run \`chmod 600 ${file}\`.`,
    );
  }
  return decodeMasterKey(await fs.readFile(file, 'utf8'), `The master key file ${file}`);
}

function isErrno(err: unknown, code: string): boolean {
  return errnoCode(err) === code;
}

function errnoCode(err: unknown): string {
  // Not `instanceof Error`: errors from Node's own modules may come from another realm (e.g. under jest).
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : 'unknown error';
}
