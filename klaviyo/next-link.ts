const LINKS_KEY = Buffer.from('"links"');

function isJsonSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * `links.next` of a raw page without parsing it: null when the page says there is none, undefined when
 * the tail does not have the expected shape. Only a document that ends with its top-level `"links"`
 * member (`…,"links":{…}}`) is read; a quote inside a JSON string is always escaped, so `"links"` cannot
 * come from a value, and a `links` member nested deeper would be followed by more than the final brace
 * (the slice would not parse). It is only a hint: the caller checks it against the validated page.
 */
export function peekNextLink(raw: Buffer): string | null | undefined {
  let end = raw.length - 1;
  while (end >= 0 && isJsonSpace(raw[end])) end--;
  if (end < 0 || raw[end] !== 0x7d) return undefined;
  const at = raw.lastIndexOf(LINKS_KEY);
  if (at <= 0) return undefined;
  let before = at - 1;
  while (before >= 0 && isJsonSpace(raw[before])) before--;
  if (before < 0 || (raw[before] !== 0x2c && raw[before] !== 0x7b)) return undefined;
  let colon = at + LINKS_KEY.length;
  while (colon < end && isJsonSpace(raw[colon])) colon++;
  if (raw[colon] !== 0x3a) return undefined;
  let links: unknown;
  try {
    links = JSON.parse(raw.subarray(colon + 1, end).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof links !== 'object' || links === null || Array.isArray(links)) return undefined;
  const next = (links as { next?: unknown }).next;
  if (next === undefined || next === null) return null;
  return typeof next === 'string' ? next : undefined;
}
