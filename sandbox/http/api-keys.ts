import type { IncomingHttpHeaders } from 'node:http';
import { CATALOG } from '../../klaviyo/catalog';
import { privateKey } from '../ids';
import { authenticationFailed, notAuthenticated } from './api-error';

/** Every read scope the catalog's endpoints (and their includes) need. */
export const READ_SCOPES: readonly string[] = Object.freeze(
  [...new Set([...CATALOG.flatMap((t) => t.scopes), 'conversations:read'])].sort(),
);

/** Full access: every read scope and its write twin. */
export const FULL_SCOPES: readonly string[] = Object.freeze([
  ...READ_SCOPES,
  ...READ_SCOPES.map((s) => s.replace(/:read$/, ':write')),
]);

export type KeyScopes = readonly string[] | 'full' | 'read-only';

export interface StandardKeys {
  full: string;
  readOnly: string;
  /** Every read scope except `profiles:read`. */
  noProfiles: string;
}

/**
 * The account's private API keys and their scopes. Keys are derived from the seed, so a restart with the same seed
 * hands out the same keys. The key text is never put into an error or a log line.
 */
export class ApiKeys {
  private readonly scopes = new Map<string, ReadonlySet<string>>();
  private created = 0;
  readonly standard: StandardKeys;

  constructor(private readonly seed: number) {
    this.standard = {
      full: this.add('full', 'full'),
      readOnly: this.add('read-only', 'read-only'),
      noProfiles: this.add(
        'no-profiles',
        READ_SCOPES.filter((s) => s !== 'profiles:read'),
      ),
    };
  }

  private add(label: string, scopes: KeyScopes): string {
    const key = privateKey(this.seed, label);
    this.scopes.set(key, new Set(resolveScopes(scopes)));
    return key;
  }

  /** A new key with the given scopes. */
  create(scopes: KeyScopes): string {
    this.created += 1;
    return this.add(`created-${this.created}`, scopes);
  }

  /** Revokes a key; later requests with it get 401 authentication_failed. Unknown keys are ignored. */
  revoke(key: string): boolean {
    return this.scopes.delete(key);
  }

  /** The scopes of the key in an Authorization header, or the 401 Klaviyo would answer. */
  authenticate(headers: IncomingHttpHeaders): ReadonlySet<string> {
    const header = headers.authorization;
    if (typeof header !== 'string') throw notAuthenticated();
    const match = /^Klaviyo-API-Key\s+(\S+)\s*$/.exec(header);
    if (!match) throw notAuthenticated();
    const scopes = this.scopes.get(match[1]);
    if (!scopes) throw authenticationFailed();
    return scopes;
  }
}

function resolveScopes(scopes: KeyScopes): readonly string[] {
  if (scopes === 'full') return FULL_SCOPES;
  if (scopes === 'read-only') return READ_SCOPES;
  const unknown = scopes.filter((s) => !FULL_SCOPES.includes(s));
  if (unknown.length > 0)
    throw new RangeError(`Unknown scope(s): ${unknown.join(', ')}. Known: ${FULL_SCOPES.join(', ')}`);
  return scopes;
}
