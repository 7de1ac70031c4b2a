import type { CatalogTable } from '../../klaviyo/catalog';
import { FILTER_OPERATORS, type Condition, type FilterOperator, type Scalar } from '../data/row';
import { enumValues, kindOfApiType } from './field-kinds';

/**
 * Klaviyo's filter language: `op(field,value)`, `has(field)`, `and(...)` and top-level commas (both AND),
 * strings in single or double quotes (backslash escapes), unquoted datetimes, numbers, booleans, `null` and
 * `[...]` lists. Parsing checks every field and operator against the endpoint's catalog entry.
 */

/** A filter the endpoint refuses; the message is Klaviyo-style detail text for a 400. */
export class FilterError extends Error {}

type Token =
  | { t: 'ident'; v: string }
  | { t: 'string'; v: string }
  | { t: 'bare'; v: string }
  | { t: 'punct'; v: '(' | ')' | ',' | '[' | ']' };

const DATETIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:?\d{2})?$/;
const NUMBER = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (c === ' ' || c === '\t' || c === '\n') {
      i++;
    } else if (c === '(' || c === ')' || c === ',' || c === '[' || c === ']') {
      tokens.push({ t: 'punct', v: c });
      i++;
    } else if (c === "'" || c === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= input.length) throw new FilterError(`Unterminated string in filter near position ${i}.`);
        const ch = input[i];
        if (ch === c) {
          i++;
          break;
        }
        if (ch === '\\') {
          const next = input[i + 1];
          if (next === undefined) throw new FilterError('Filter ends inside an escape sequence.');
          if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(input.slice(i + 2, i + 6))) {
            value += String.fromCharCode(parseInt(input.slice(i + 2, i + 6), 16));
            i += 6;
            continue;
          }
          value += { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' }[next] ?? next;
          i += 2;
          continue;
        }
        value += ch;
        i++;
      }
      tokens.push({ t: 'string', v: value });
    } else {
      const start = i;
      while (i < input.length && !'(),[] \'"'.includes(input[i])) i++;
      const word = input.slice(start, i);
      tokens.push(input[i] === '(' ? { t: 'ident', v: word } : { t: 'bare', v: word });
    }
  }
  return tokens;
}

/** A raw value before it is checked against the field's type. */
type RawValue =
  { kind: 'string'; value: string } | { kind: 'bare'; value: string } | { kind: 'list'; items: RawValue[] };

interface RawCondition {
  op: string;
  field: string;
  value: RawValue | null;
}

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private expect(v: string): void {
    const token = this.tokens[this.pos++];
    if (!token || token.t !== 'punct' || token.v !== v) {
      throw new FilterError(
        `Invalid filter syntax: expected '${v}' ${token ? `but found '${token.v}'` : 'at the end'}.`,
      );
    }
  }

  /** expression := term (',' term)* */
  expression(): RawCondition[] {
    const out = this.term();
    while (this.peek()?.t === 'punct' && this.peek()?.v === ',') {
      this.pos++;
      out.push(...this.term());
    }
    return out;
  }

  private term(): RawCondition[] {
    const token = this.tokens[this.pos++];
    if (!token || token.t !== 'ident') {
      throw new FilterError(
        `Invalid filter syntax: expected an operator such as equals(...) ${token ? `but found '${token.v}'` : 'at the end'}.`,
      );
    }
    const op = token.v;
    this.expect('(');
    if (op === 'and') {
      const inner = this.expression();
      this.expect(')');
      return inner;
    }
    if (op === 'or' || op === 'not') throw new FilterError(`The '${op}' operator is not supported on this endpoint.`);
    const fieldToken = this.tokens[this.pos++];
    if (!fieldToken || fieldToken.t !== 'bare' || fieldToken.v.length === 0) {
      throw new FilterError(`Invalid filter syntax: '${op}' needs a field name.`);
    }
    if (op === 'has') {
      this.expect(')');
      return [{ op, field: fieldToken.v, value: null }];
    }
    this.expect(',');
    const value = this.value();
    this.expect(')');
    return [{ op, field: fieldToken.v, value }];
  }

  private value(): RawValue {
    const token = this.tokens[this.pos++];
    if (!token) throw new FilterError('Invalid filter syntax: a value is missing.');
    if (token.t === 'string') return { kind: 'string', value: token.v };
    if (token.t === 'bare' && token.v.length > 0) return { kind: 'bare', value: token.v };
    if (token.t === 'punct' && token.v === '[') {
      const items: RawValue[] = [];
      if (this.peek()?.t === 'punct' && this.peek()?.v === ']') {
        this.pos++;
        return { kind: 'list', items };
      }
      for (;;) {
        const item = this.value();
        if (item.kind === 'list') throw new FilterError('Invalid filter syntax: lists cannot be nested.');
        items.push(item);
        const sep = this.tokens[this.pos++];
        if (sep?.t === 'punct' && sep.v === ']') break;
        if (!(sep?.t === 'punct' && sep.v === ','))
          throw new FilterError("Invalid filter syntax: expected ',' or ']' in a list.");
      }
      return { kind: 'list', items };
    }
    throw new FilterError(`Invalid filter syntax: unexpected '${token.v}' where a value was expected.`);
  }

  done(): void {
    if (this.pos < this.tokens.length)
      throw new FilterError(`Invalid filter syntax: unexpected '${this.tokens[this.pos].v}'.`);
  }
}

/** Parses and validates a filter for an endpoint; an empty or absent filter gives no conditions. */
export function parseFilter(table: CatalogTable, filter: string | null): Condition[] {
  if (filter === null || filter.trim() === '') return [];
  if (/T\d{2}:\d{2}(:\d{2}(\.\d+)?)? \d{2}:?\d{2}\b/.test(filter)) {
    // `+00:00` sent unencoded in a query string arrives as a space.
    throw new FilterError("A datetime offset arrived as a space: a '+' in a URL must be percent-encoded as %2B.");
  }
  const parser = new Parser(tokenize(filter));
  const raw = parser.expression();
  parser.done();
  return raw.map((c) => validate(table, c));
}

function validate(table: CatalogTable, raw: RawCondition): Condition {
  if (!(FILTER_OPERATORS as readonly string[]).includes(raw.op)) {
    throw new FilterError(`'${raw.op}' is not a valid filter operator.`);
  }
  const op = raw.op as FilterOperator;
  const spec = table.filters[raw.field];
  if (!spec) {
    const allowed = Object.keys(table.filters);
    throw new FilterError(
      allowed.length === 0
        ? `Filtering is not supported on this endpoint ('${raw.field}').`
        : `'${raw.field}' is not a valid field for filtering. Allowed fields: ${allowed.join(', ')}.`,
    );
  }
  if (!spec.operators.includes(op)) {
    throw new FilterError(
      `'${op}' is not a valid operator for the field '${raw.field}'. Allowed operators: ${spec.operators.join(', ')}.`,
    );
  }
  const kind = kindOfApiType(spec.valueType);
  if (op === 'has') return { field: raw.field, op, value: null, kind };
  if (raw.value === null) throw new FilterError(`'${op}' needs a value for '${raw.field}'.`);
  if (raw.value.kind === 'list') {
    // Lists belong to `any` (and to `equals` where the field also takes `any`, as Klaviyo allows).
    if (op !== 'any' && !(op === 'equals' && spec.operators.includes('any'))) {
      throw new FilterError(`'${op}' does not take a list value for the field '${raw.field}'.`);
    }
    if (raw.value.items.length === 0) throw new FilterError(`The list given to '${op}' for '${raw.field}' is empty.`);
    const items = raw.value.items.map((item) => scalar(raw.field, spec.valueType, item));
    return { field: raw.field, op: 'any', value: items, kind };
  }
  if (op === 'any') throw new FilterError(`'any' needs a list value for the field '${raw.field}', e.g. ['a','b'].`);
  return { field: raw.field, op, value: scalar(raw.field, spec.valueType, raw.value), kind };
}

function scalar(field: string, valueType: string, raw: RawValue): Scalar {
  const kind = kindOfApiType(valueType);
  if (raw.kind === 'list') throw new FilterError(`Lists cannot be nested ('${field}').`);
  if (raw.kind === 'bare' && raw.value === 'null') return null;
  switch (kind) {
    case 'datetime': {
      if (raw.kind === 'string') {
        throw new FilterError(
          `Datetime values must not be quoted: use ${field},${raw.value} instead of '${raw.value}'.`,
        );
      }
      // A datetime without a zone means UTC, whatever the sandbox host's time zone.
      const text = /T[^Z+-]*$/.test(raw.value) ? `${raw.value}Z` : raw.value;
      if (!DATETIME.test(raw.value) || Number.isNaN(Date.parse(text))) {
        throw new FilterError(
          `'${raw.value}' is not a valid datetime for '${field}' (expected ISO 8601, e.g. 2024-01-01T00:00:00Z).`,
        );
      }
      return Date.parse(text) / 1000;
    }
    case 'number': {
      if (raw.kind !== 'bare' || !NUMBER.test(raw.value))
        throw new FilterError(`'${raw.value}' is not a valid number for '${field}'.`);
      const value = Number(raw.value);
      if (valueType.startsWith('integer') && !Number.isInteger(value)) {
        throw new FilterError(`'${raw.value}' is not a valid integer for '${field}'.`);
      }
      return value;
    }
    case 'boolean': {
      if (raw.kind === 'bare' && (raw.value === 'true' || raw.value === 'false')) return raw.value === 'true';
      throw new FilterError(`'${raw.value}' is not a valid boolean for '${field}' (use true or false, unquoted).`);
    }
    default: {
      if (raw.kind !== 'string') {
        throw new FilterError(`String values must be quoted: '${raw.value}' for '${field}'.`);
      }
      const allowed = enumValues(valueType);
      if (allowed && !allowed.includes(raw.value)) {
        throw new FilterError(
          `'${raw.value}' is not a valid value for '${field}'. Allowed values: ${allowed.join(', ')}.`,
        );
      }
      return raw.value;
    }
  }
}
