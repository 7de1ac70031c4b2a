import { MAX_FILTER_VALUES, type ReportEndpoint } from './endpoints';

/**
 * The `filter` of a report body: `op(attribute,value)` conditions, alone or inside one `and(...)`. `equals` takes a
 * quoted string; `contains-any`, `contains-all` and `any` a `[...]` list of at most 100 quoted strings. Each attribute
 * may appear once, and only the operators the endpoint allows for it.
 */

export interface ReportCondition {
  attribute: string;
  op: string;
  values: string[];
}

/** A filter the endpoint refuses; the message is the detail of Klaviyo's 400. */
export class ReportFilterError extends Error {}

export function parseReportFilter(endpoint: ReportEndpoint, text: string | null | undefined): ReportCondition[] {
  if (text === null || text === undefined || text.trim() === '') return [];
  const parser = new Parser(text);
  const conditions = parser.top();
  const seen = new Set<string>();
  for (const condition of conditions) {
    const attribute = endpoint.filters[condition.attribute];
    if (!attribute)
      throw new ReportFilterError(
        `'${condition.attribute}' is not a valid filter field. Allowed fields: ${Object.keys(endpoint.filters).join(', ')}.`,
      );
    if (!attribute.operators.includes(condition.op))
      throw new ReportFilterError(
        `'${condition.op}' is not a valid operator for '${condition.attribute}'. Allowed operators: ${attribute.operators.join(', ')}.`,
      );
    if (seen.has(condition.attribute))
      throw new ReportFilterError(`Only one filter can be used per attribute; '${condition.attribute}' has several.`);
    seen.add(condition.attribute);
    if (condition.values.length > MAX_FILTER_VALUES)
      throw new ReportFilterError(
        `The filter on '${condition.attribute}' lists ${condition.values.length} values; at most ${MAX_FILTER_VALUES} are allowed.`,
      );
    if (condition.attribute === 'send_channel' && endpoint.channels) {
      const bad = condition.values.find((v) => !endpoint.channels!.includes(v));
      if (bad !== undefined)
        throw new ReportFilterError(
          `'${bad}' is not a valid send_channel. Allowed values: ${endpoint.channels.join(', ')}.`,
        );
    }
  }
  return conditions;
}

class Parser {
  private pos = 0;

  constructor(private readonly text: string) {}

  top(): ReportCondition[] {
    this.space();
    const name = this.word();
    let out: ReportCondition[];
    if (name === 'and') {
      this.expect('(');
      out = [this.condition(this.word())];
      while (this.peek() === ',') {
        this.pos++;
        out.push(this.condition(this.word()));
      }
      this.expect(')');
    } else if (name === 'or' || name === 'not') {
      throw new ReportFilterError(`Only AND can be used as a combination operator; '${name}' is not supported.`);
    } else out = [this.condition(name)];
    this.space();
    if (this.pos < this.text.length) this.fail('unexpected text after the filter');
    return out;
  }

  private condition(op: string): ReportCondition {
    if (op === 'and') throw new ReportFilterError("'and' cannot be nested inside 'and'.");
    this.expect('(');
    this.space();
    const attribute = this.word();
    this.expect(',');
    this.space();
    let values: string[];
    if (this.text[this.pos] === '[') {
      if (op === 'equals') this.fail(`'equals' takes one quoted value, not a list`);
      this.pos++;
      values = [];
      this.space();
      if (this.text[this.pos] !== ']') {
        values.push(this.string());
        while (this.peek() === ',') {
          this.pos++;
          values.push(this.string());
        }
      }
      this.expect(']');
      if (values.length === 0) this.fail(`'${op}' needs at least one value`);
    } else {
      if (op !== 'equals') this.fail(`'${op}' takes a [...] list of quoted values`);
      values = [this.string()];
    }
    this.expect(')');
    return { attribute, op, values };
  }

  private word(): string {
    this.space();
    const start = this.pos;
    while (this.pos < this.text.length && /[A-Za-z0-9_.-]/.test(this.text[this.pos])) this.pos++;
    if (this.pos === start) this.fail('expected a name');
    return this.text.slice(start, this.pos);
  }

  private string(): string {
    this.space();
    const quote = this.text[this.pos];
    if (quote !== '"' && quote !== "'") this.fail('expected a quoted value');
    let value = '';
    this.pos++;
    for (;;) {
      if (this.pos >= this.text.length) this.fail('unterminated string');
      const c = this.text[this.pos];
      if (c === quote) break;
      if (c === '\\' && this.pos + 1 < this.text.length) {
        value += this.text[this.pos + 1];
        this.pos += 2;
        continue;
      }
      value += c;
      this.pos++;
    }
    this.pos++;
    return value;
  }

  private peek(): string | undefined {
    this.space();
    return this.text[this.pos];
  }

  private expect(c: string): void {
    if (this.peek() !== c) this.fail(`expected '${c}'`);
    this.pos++;
  }

  private space(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  private fail(what: string): never {
    throw new ReportFilterError(`Invalid filter: ${what} at position ${this.pos} of '${this.text}'.`);
  }
}
