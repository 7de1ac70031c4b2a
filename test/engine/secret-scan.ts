/**
 * Finds secrets in whatever Temporal, a process or a log holds. Temporal keeps inputs, results,
 * heartbeat details and failure attributes as payloads (bytes, or base64 once in JSON): those are
 * decoded before searching, or a key inside them would go unseen.
 */

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Every text in `value`, with bytes decoded as UTF-8 and base64 strings decoded too, recursively. */
export function readableTexts(value: unknown): string[] {
  const out: string[] = [];
  const seen = new Set<object>();
  const visit = (v: unknown, depth: number): void => {
    if (v === null || v === undefined || depth > 64) return;
    if (typeof v === 'string') {
      out.push(v);
      for (const decoded of base64Decodings(v)) visitText(decoded, depth + 1);
      return;
    }
    if (v instanceof Uint8Array) {
      visitText(Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8'), depth + 1);
      return;
    }
    if (typeof v !== 'object') {
      out.push(String(v));
      return;
    }
    if (seen.has(v)) return;
    seen.add(v);
    for (const [key, child] of Object.entries(v)) {
      out.push(key);
      visit(child, depth + 1);
    }
  };
  // Decoded text may itself be JSON holding more payloads (a failure's encoded attributes, say).
  const visitText = (text: string, depth: number): void => {
    out.push(text);
    const trimmed = text.trim();
    if (!trimmed.startsWith('{') && !trimmed.startsWith('[') && !trimmed.startsWith('"')) return;
    try {
      visit(JSON.parse(trimmed), depth);
    } catch {
      // not JSON: the text itself was kept
    }
  };
  visit(value, 0);
  return out;
}

function base64Decodings(text: string): string[] {
  if (text.length < 8) return [];
  const decodings: string[] = [];
  if (text.length % 4 === 0 && BASE64.test(text)) decodings.push(Buffer.from(text, 'base64').toString('utf8'));
  else if (BASE64URL.test(text)) decodings.push(Buffer.from(text, 'base64url').toString('utf8'));
  return decodings;
}

/** Each secret of an API key as it could leak: the whole `pk_…` key and its 34-character secret part. */
export function secretForms(apiKey: string): string[] {
  return [apiKey, apiKey.replace(/^pk_/, '')];
}

/**
 * Where any of `secrets` occurs among `texts` of each source, as lines safe to print (the secret
 * itself masked): an empty list means nothing leaked.
 */
export function findLeaks(sources: Record<string, string[]>, secrets: string[]): string[] {
  const leaks: string[] = [];
  for (const [source, texts] of Object.entries(sources)) {
    for (const text of texts) {
      for (const secret of secrets) {
        const at = text.indexOf(secret);
        if (at < 0) continue;
        const context = text
          .slice(Math.max(0, at - 60), at + secret.length + 60)
          .split(secret)
          .join('[SECRET]');
        leaks.push(`${source}: …${context}…`);
      }
    }
  }
  return leaks;
}
