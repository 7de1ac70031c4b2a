/**
 * Klaviyo's OpenAPI description states which fields and operators a list endpoint's `filter` takes only in words,
 * in the parameter's description:
 *
 *   For more information please visit …#filtering<br>Allowed field(s)/operator(s):<br>`id`: `any`, `equals`<br>…
 *
 * This reads that text into field → operators. It is strict on what it recognises (a line that is neither the
 * preamble nor a field line throws, so a change in Klaviyo's wording is seen, not skipped) and lenient on the
 * separators (`<br>`, `<br/>`, newlines, spaces around the colon and commas).
 */

const HEADING = /allowed field\(s\)\s*\/\s*operator\(s\)\s*:/i;
const FIELD_LINE = /^`([^`]+)`\s*:\s*(`[^`]+`(?:\s*,\s*`[^`]+`)*)\s*$/;

export function parseFilterDescription(description: string): Map<string, string[]> {
  const heading = HEADING.exec(description);
  if (!heading) throw new Error(`The filter description names no allowed fields: "${description}"`);
  const allowed = new Map<string, string[]>();
  const lines = description
    .slice(heading.index + heading[0].length)
    .split(/<br\s*\/?>|\r?\n/i)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  for (const line of lines) {
    const match = FIELD_LINE.exec(line);
    if (!match) throw new Error(`Unreadable line in a filter description: "${line}"`);
    const operators = [...match[2].matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    allowed.set(match[1], [...(allowed.get(match[1]) ?? []), ...operators]);
  }
  if (allowed.size === 0) throw new Error(`The filter description lists no field: "${description}"`);
  return allowed;
}
