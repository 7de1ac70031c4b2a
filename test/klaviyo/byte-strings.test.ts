import { CATALOG as catalog, getTable, type CatalogTable } from '../../klaviyo/catalog';
import { bytesOf, bytesToText, decodableAsBytes, textToBytes, valueBytesToText } from '../../klaviyo/byte-strings';
import { KlaviyoClient } from '../../klaviyo/klaviyo-client';
import type { KlaviyoPage } from '../../klaviyo/paging';
import { tablePageCheck, type PageStrings } from '../../klaviyo/page-check';
import { resolveSelection } from '../../control-plane/table-selection';
import { selectedLayout } from '../../activities/extract-table';
import { versionTarget } from '../../warehouse/copy-loader';
import { pageEncoder } from '../../warehouse/page-copy';
import type { JsonApiResource, RowContext } from '../../warehouse/row-mapping';
import { startSandbox, type Sandbox } from '../../sandbox/server';
import { seededRandom } from '../resilience/seeded-random';
import { sendJson, startScriptedHttpServer, type ScriptedHttpServer } from './scripted-http-server';

/**
 * Byte strings are a shortcut: reading a page as Latin-1 and writing its COPY text as Latin-1 must give
 * Postgres exactly the bytes that reading it as UTF-8 and writing UTF-8 gives, accept exactly the same
 * pages, and fail a row with exactly the same words.
 */

const utf8 = (text: string) => Buffer.from(text, 'utf8');

describe('decodableAsBytes', () => {
  it.each([
    ['ASCII', utf8('{"a":"b"}'), true],
    ['two-, three- and four-byte characters', utf8('{"a":"Łódź → 😀"}'), true],
    ['an escaped quote and backslash', utf8('{"a":"say \\"hi\\" \\\\ bye"}'), true],
    ['a \\u escape of a non-ASCII character', utf8('{"a":"caf\\u00e9"}'), false],
    ['a \\u0000 escape', utf8('{"a":"x\\u0000y"}'), false],
    ['a lone surrogate escape', utf8('{"a":"\\ud800"}'), false],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), false],
    ['an overlong encoding', Buffer.from([0x22, 0xc0, 0xaf, 0x22]), false],
    ['a UTF-8 encoded surrogate', Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]), false],
  ])('%s: %s', (_case, raw, expected) => {
    expect(decodableAsBytes(raw)).toBe(expected);
  });

  it('turns text into bytes and back', () => {
    for (const text of ['', 'plain', 'Łukasz', 'à', '\u00a0', '😀 and 𝄞', '\u2028', 'ÿ\u0100']) {
      const bytes = textToBytes(text);
      expect(Buffer.from(bytes, 'latin1')).toEqual(utf8(text));
      expect(bytesToText(bytes)).toBe(text);
    }
    expect(valueBytesToText(JSON.parse(bytesOf(utf8('{"clé":["é",{"ü":1}]}'))))).toEqual({ clé: ['é', { ü: 1 }] });
  });
});

/**
 * Strings where characters and bytes could part ways: U+00A0 (which `trim` removes, and whose UTF-8 ends
 * in the byte 0xA0, as does à's), other Unicode spaces, digits and words beyond ASCII, date-times with
 * non-ASCII comments (which Date.parse skips), escapes COPY must double, and the escapes that make a page
 * text only (U+0000, a lone surrogate).
 */
const TRICKY_STRINGS = [
  '',
  'plain',
  'Łukasz',
  'à',
  'voilà',
  '\u00a012\u00a0',
  ' 42 ',
  '12\u3000',
  '\ufeff7',
  '１２',
  '\u00a0true',
  'TRUE\u00a0',
  'false',
  '1e5',
  '-0.5',
  '9223372036854775807',
  '2026-01-01T00:00:00+00:00',
  '2026-01-01',
  '2026-01-01T00:00:00Z (é)',
  'é 2026-01-01',
  '2026-01-01\u00a010:00',
  'Mai 3 2026',
  '😀',
  'tab\there',
  'back\\slash',
  'quote"mark',
  'line\nbreak\r',
  '\u2028\u2029',
  '\u0085',
];

/** Strings JSON.stringify writes with a `\u` escape: a page holding one is read as text. */
const ESCAPED_STRINGS = ['x\u0000y', '\ud800', '\u001f'];

function trickyString(next: () => number): string {
  if (next() < 0.01) return ESCAPED_STRINGS[Math.floor(next() * ESCAPED_STRINGS.length)];
  return TRICKY_STRINGS[Math.floor(next() * TRICKY_STRINGS.length)];
}

function trickyValue(next: () => number, depth = 0): unknown {
  const roll = next();
  if (roll < 0.55 || depth > 2) return trickyString(next);
  if (roll < 0.65) return [1.5, -0, 0, 42, 1e21, 2 ** 60, -7][Math.floor(next() * 7)];
  if (roll < 0.7) return next() < 0.5;
  if (roll < 0.75) return null;
  if (roll < 0.85) return Array.from({ length: Math.floor(next() * 3) }, () => trickyValue(next, depth + 1));
  const object: Record<string, unknown> = {};
  for (let i = Math.floor(next() * 4); i > 0; i--) {
    object[trickyString(next)] = trickyValue(next, depth + 1);
  }
  if (next() < 0.2) object.latitude = trickyValue(next, depth + 1);
  return object;
}

/** A value that fits the field's apiType, mostly, with tricky strings wherever a string goes. */
function fieldValue(apiType: string, next: () => number): unknown {
  if (next() < 0.25) return trickyValue(next);
  if (apiType.includes('date-time')) return TRICKY_STRINGS[16 + Math.floor(next() * 6)];
  if (apiType.includes('integer')) return Math.floor(next() * 1000);
  if (apiType.includes('number')) return next() * 100;
  if (apiType.includes('boolean')) return next() < 0.5;
  if (apiType.startsWith('string') || apiType.startsWith('enum')) return trickyString(next);
  return trickyValue(next);
}

function randomResource(table: CatalogTable, next: () => number): JsonApiResource {
  const attributes: Record<string, unknown> = {};
  for (const field of table.fields) if (next() < 0.8) attributes[field.name] = fieldValue(field.apiType, next);
  const relationships: Record<string, unknown> = {};
  for (const relationship of table.relationships ?? []) {
    const id = next() < 0.2 ? trickyString(next) : `r${Math.floor(next() * 99)}`;
    relationships[relationship.name] = { data: next() < 0.1 ? null : { type: relationship.name, id } };
  }
  const id = next() < 0.1 ? trickyString(next) : `id${Math.floor(next() * 1e6)}`;
  return { type: table.resourceType, id, attributes, relationships } as JsonApiResource;
}

/** What a table's rows become as COPY text, or the words they fail with. */
function copyBytes(table: CatalogTable, resources: JsonApiResource[], strings: PageStrings, context: RowContext) {
  const layout = selectedLayout(resolveSelection([{ table: table.name }])[0]);
  // Through the readers' own boundary, which picks the row mapper and the encoding from `strings`.
  const encode = pageEncoder(versionTarget('s', 1, layout), layout);
  try {
    return { bytes: encode(resources, strings, context).toString('hex') };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

describe('a page read as byte strings', () => {
  it.each(catalog.map((t) => [t.name, t] as const))(
    '%s: is accepted, mapped and written exactly as when read as text (300 random pages)',
    (_name, table) => {
      const next = seededRandom([...table.name].reduce((n, c) => n * 31 + c.charCodeAt(0), 7));
      // No context fails rows of fan-out tables, with their id in the words.
      const contexts: RowContext[] = [{}, { parentId: 'p1', channel: 'email' }, { parentId: 'père', channel: 'émail' }];
      let asBytes = 0;
      for (let i = 0; i < 300; i++) {
        const context = contexts[i % contexts.length];
        const page = { data: Array.from({ length: 1 + Math.floor(next() * 3) }, () => randomResource(table, next)) };
        const raw = utf8(JSON.stringify(page));
        if (!decodableAsBytes(raw)) continue;
        asBytes++;
        const text = JSON.parse(raw.toString('utf8')) as typeof page;
        const bytes = JSON.parse(bytesOf(raw)) as typeof page;
        expect([i, tablePageCheck(table, 'bytes')(bytes)]).toEqual([i, tablePageCheck(table)(text)]);
        expect([i, copyBytes(table, bytes.data, 'bytes', context)]).toEqual([
          i,
          copyBytes(table, text.data, 'text', context),
        ]);
      }
      // Most random pages hold no `\u` escape; the rest are read as text and need no comparison.
      expect(asBytes).toBeGreaterThan(100);
    },
  );
});

describe('KlaviyoClient with byteStrings', () => {
  let server: ScriptedHttpServer;
  let client: KlaviyoClient;
  const profiles = getTable('profiles');
  beforeAll(async () => {
    server = await startScriptedHttpServer();
    client = new KlaviyoClient({
      apiKey: 'pk_' + 'Q7r2Xk9Lm4Np8Ts1Vw6Yz3Bc5Df0GhJkwxyz',
      baseUrl: server.baseUrl,
      retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 10 },
    });
  });
  afterAll(async () => {
    client.close();
    await server.close();
  });

  async function firstPage(body: Buffer, byteStrings: boolean): Promise<KlaviyoPage> {
    server.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.api+json' });
      res.end(body);
    });
    for await (const page of client.pages({ table: profiles, byteStrings })) return page;
    throw new Error('no page');
  }

  const page = (name: string) =>
    `{"data":[{"type":"profile","id":"p1","attributes":{"first_name":"${name}"}}],"links":{"next":null}}`;

  it('gives UTF-8 bytes only when asked, and says so', async () => {
    const asked = await firstPage(utf8(page('Łukasz')), true);
    expect(asked.strings).toBe('bytes');
    expect(asked.data[0].attributes?.first_name).toBe(textToBytes('Łukasz'));
    const notAsked = await firstPage(utf8(page('Łukasz')), false);
    expect(notAsked.strings).toBe('text');
    expect(notAsked.data[0].attributes?.first_name).toBe('Łukasz');
  });

  it('gives text for a page with a \\u escape, and for a page that is not valid UTF-8 (with U+FFFD, as ever)', async () => {
    const escaped = await firstPage(utf8(page('\\u0141ukasz')), true);
    expect([escaped.strings, escaped.data[0].attributes?.first_name]).toEqual(['text', 'Łukasz']);
    const broken = Buffer.from(utf8(page('ab')));
    broken[broken.indexOf('ab')] = 0xc3;
    const replaced = await firstPage(broken, true);
    expect([replaced.strings, replaced.data[0].attributes?.first_name]).toEqual(['text', '\ufffdb']);
  });

  it('follows a next link with non-ASCII characters as text', async () => {
    server.handle((req, res) => {
      if (decodeURIComponent(req.url ?? '').includes('curseur-é')) {
        sendJson(res, 200, { data: [{ type: 'profile', id: 'p2', attributes: {} }], links: { next: null } });
      } else {
        sendJson(res, 200, {
          data: [{ type: 'profile', id: 'p1', attributes: { first_name: 'Zoë' } }],
          links: { next: `${server.baseUrl}/api/profiles?page[cursor]=curseur-é` },
        });
      }
    });
    const pages: KlaviyoPage[] = [];
    for await (const p of client.pages({ table: profiles, byteStrings: true })) pages.push(p);
    expect(pages.map((p) => [p.strings, p.data[0].id])).toEqual([
      ['bytes', 'p1'],
      ['bytes', 'p2'],
    ]);
    expect(pages[0].nextUrl).toContain('curseur-é');
  });
});

describe("the sandbox's hostile pages", () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 5, rateLimits: { enabled: false }, hostile: true });
  });
  afterAll(() => sandbox.close());

  const tables = catalog.filter((t) => !t.parent && !t.requiredFilter).map((t) => t.name);

  it.each(tables)('%s: read as byte strings, become the same COPY bytes as read as text', async (name) => {
    const table = getTable(name);
    const client = new KlaviyoClient({
      apiKey: sandbox.keys.full,
      baseUrl: sandbox.baseUrl,
      rateLimits: { enabled: false },
    });
    try {
      const read = async (byteStrings: boolean) => {
        const pages: { strings: PageStrings; copy: ReturnType<typeof copyBytes> }[] = [];
        for await (const page of client.pages({ table, byteStrings })) {
          pages.push({ strings: page.strings, copy: copyBytes(table, page.data, page.strings, {}) });
          if (pages.length === 20) break;
        }
        return pages;
      };
      const asText = await read(false);
      const asBytes = await read(true);
      expect(asBytes.map((p) => p.copy)).toEqual(asText.map((p) => p.copy));
      expect(asText.every((p) => p.strings === 'text')).toBe(true);
    } finally {
      client.close();
    }
  });
});
