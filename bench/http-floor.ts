import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { KLAVIYO_REVISION } from '../klaviyo/catalog';
import { peekNextLink } from '../klaviyo/next-link';

/**
 * Floor (a): the same pages the engine reads, fetched by a bare keep-alive HTTP loop that follows
 * `links.next` and throws the bodies away — no JSON validation, no row mapping, no database. One
 * sequential loop per table (pagination is sequential), all tables at once, as the engine runs them.
 */
export interface HttpFloorTable {
  table: string;
  pages: number;
  bytes: number;
  seconds: number;
}

export interface HttpFloor {
  /** Wall time of all loops together. */
  seconds: number;
  tables: HttpFloorTable[];
}

/**
 * `firstUrls`: table name → URL of its first page (same fields and page size as the engine's).
 * `maxPages` stops each loop early (to warm the sandbox up). @default Infinity
 */
export async function measureHttpFloor(
  firstUrls: Record<string, string>,
  apiKey: string,
  maxPages = Infinity,
): Promise<HttpFloor> {
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  const headers = {
    authorization: `Klaviyo-API-Key ${apiKey}`,
    revision: KLAVIYO_REVISION,
    accept: 'application/vnd.api+json',
  };
  const started = performance.now();
  try {
    const tables = await Promise.all(
      Object.entries(firstUrls).map(async ([table, first]) => {
        const tableStarted = performance.now();
        let url: string | null = first;
        let pages = 0;
        let bytes = 0;
        while (url !== null && pages < maxPages) {
          const body = await get(url, headers, agents);
          pages++;
          bytes += body.length;
          url = nextLink(body, table);
        }
        return { table, pages, bytes, seconds: (performance.now() - tableStarted) / 1000 };
      }),
    );
    return { seconds: (performance.now() - started) / 1000, tables };
  } finally {
    agents.http.destroy();
    agents.https.destroy();
  }
}

function get(
  url: string,
  headers: Record<string, string>,
  agents: { http: http.Agent; https: https.Agent },
): Promise<Buffer> {
  const secure = url.startsWith('https:');
  const transport = secure ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.get(url, { headers, agent: secure ? agents.https : agents.http }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        // The key is in the request headers: the error names the status and path only.
        if (response.statusCode !== 200)
          reject(new Error(`HTTP floor: ${new URL(url).pathname} answered ${response.statusCode}`));
        else resolve(Buffer.concat(chunks));
      });
    });
    request.on('error', (err) => reject(new Error(`HTTP floor: ${new URL(url).pathname} failed (${err.message})`)));
  });
}

/** `links.next` read off the page's tail as the engine reads it; a full parse when the tail cannot tell. */
function nextLink(body: Buffer, table: string): string | null {
  const peeked = peekNextLink(body);
  if (peeked !== undefined) return peeked;
  const document = JSON.parse(body.toString('utf8')) as { links?: { next?: string | null } };
  if (!document.links) throw new Error(`HTTP floor: a page of ${table} has no links`);
  return document.links.next ?? null;
}
