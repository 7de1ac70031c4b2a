import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * The GET methods of Klaviyo's official TypeScript SDK (`klaviyo-api`), read out of its compiled API classes: which
 * method of which class requests which path, and what it takes. The SDK is generated from the same OpenAPI
 * description, so this finds the SDK's own way to read each catalog endpoint without a hand-kept table.
 */

export interface SdkMethod {
  /** The exported class, e.g. `ListsApi`. */
  api: string;
  method: string;
  /** Positional parameters before the options object, e.g. `['id']`, `['filter']`. */
  positional: string[];
  /** Options the method reads (`options.pageSize` → `pageSize`). */
  options: Set<string>;
}

const METHOD = /^ {4}(\w+)\(([^)]*)\) \{$/gm;

function apiDirectory(): string {
  return path.join(path.dirname(require.resolve('klaviyo-api')), 'api');
}

/** Every GET method of the SDK, by the path template it requests (`/api/lists/{id}/profiles`). */
export function sdkGetMethods(directory = apiDirectory()): Map<string, SdkMethod> {
  const methods = new Map<string, SdkMethod>();
  for (const file of readdirSync(directory).filter((f) => f.endsWith('Api.js'))) {
    const source = readFileSync(path.join(directory, file), 'utf8');
    const api = /^class (\w+) \{$/m.exec(source)?.[1];
    if (!api) continue;
    const starts = [...source.matchAll(METHOD)];
    starts.forEach((start, i) => {
      const body = source.slice(start.index, starts[i + 1]?.index ?? source.length);
      const route = /this\.basePath \+ '([^']+)'/.exec(body)?.[1];
      if (!route || !/method: 'GET'/.test(body)) return;
      const params = start[2]
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean);
      const positional = params.filter((p) => !p.startsWith('options')).map((p) => p.split('=')[0].trim());
      const options = new Set([...body.matchAll(/options\.(\w+)/g)].map((m) => m[1]));
      // Aliases come later in a class (`getListProfiles` for `getProfilesForList`): the first name is kept.
      if (!methods.has(route)) methods.set(route, { api, method: start[1], positional, options });
    });
  }
  return methods;
}
