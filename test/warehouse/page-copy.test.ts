import { getTable } from '../../klaviyo/catalog';
import { bytesOf } from '../../klaviyo/byte-strings';
import { versionTarget } from '../../warehouse/copy-loader';
import { pageEncoder } from '../../warehouse/page-copy';
import type { JsonApiResource } from '../../warehouse/row-mapping';
import { tableLayout } from '../../warehouse/table-layout';

/**
 * A page reaches COPY as text or, where that is exact, as UTF-8 byte strings (one character per byte). Whichever
 * way it was parsed, the COPY text is the same bytes: the encoder picks the row mapper and the encoding together.
 */
test('a page parsed as text and the same page parsed as byte strings give the same COPY bytes', () => {
  const table = getTable('events');
  const layout = tableLayout(table);
  const encode = pageEncoder(versionTarget('wh', 3, layout), layout);
  const page = {
    data: [
      {
        type: 'event',
        id: 'ev1',
        attributes: {
          datetime: '2026-11-01T10:00:00+00:00',
          timestamp: 1761991200,
          event_properties: { title: 'Café crème ☕', $value: 12.5, items: ['ü', 'ß'] },
          uuid: 'a2f4c6e8-0000-4000-8000-000000000001',
        },
        relationships: { metric: { data: { type: 'metric', id: 'M1' } } },
      },
      {
        type: 'event',
        id: 'ev2',
        attributes: { datetime: '2026-11-01T10:00:01+00:00', event_properties: { note: 'plain ASCII, tab\there' } },
      },
    ],
  };
  const raw = Buffer.from(JSON.stringify(page), 'utf8');
  const asText = JSON.parse(raw.toString('utf8')) as { data: JsonApiResource[] };
  const asBytes = JSON.parse(bytesOf(raw)) as { data: JsonApiResource[] };
  const fromText = encode(asText.data, 'text');
  const fromBytes = encode(asBytes.data, 'bytes');
  expect(fromBytes.equals(fromText)).toBe(true);
  expect(fromText.toString('utf8')).toContain('Café crème ☕');
  expect(fromText.toString('utf8').split('\n').filter(Boolean)).toHaveLength(2);
});
