import type { ReportCondition } from './report-filter';

/**
 * What a report groups and filters on: each unit (a message, a form version, a segment) has a value per attribute;
 * list attributes (tags) have several. A unit passes a filter when every condition holds; it lands in one grouping
 * per combination of its values of the `group_by` attributes (a message with two tags, grouped by tag, in two).
 */

export type AttributeValue = string | null | string[];
export type UnitAttributes = Record<string, AttributeValue>;

export function passes(unit: UnitAttributes, conditions: readonly ReportCondition[]): boolean {
  return conditions.every((condition) => {
    const value = unit[condition.attribute] ?? null;
    const have = Array.isArray(value) ? value : value === null ? [] : [value];
    if (condition.op === 'contains-all') return condition.values.every((v) => have.includes(v));
    // equals, contains-any, any: one of the values.
    return have.some((v) => condition.values.includes(v));
  });
}

export interface Grouping {
  key: string;
  groupings: Record<string, string | null>;
}

/** The groupings a unit lands in. */
export function groupingsOf(unit: UnitAttributes, groupBy: readonly string[]): Grouping[] {
  let out: Record<string, string | null>[] = [{}];
  for (const name of groupBy) {
    const value = unit[name] ?? null;
    const options: (string | null)[] = Array.isArray(value) ? (value.length > 0 ? value : [null]) : [value];
    out = out.flatMap((partial) => options.map((option) => ({ ...partial, [name]: option })));
  }
  return out.map((groupings) => ({ key: JSON.stringify(groupBy.map((name) => groupings[name])), groupings }));
}

/** Rounds money to cents, so sums of prices do not show float noise. */
export function cents(value: number): number {
  return Math.round(value * 100) / 100;
}

export function ratio(numerator: number, denominator: number): number {
  return denominator > 0 ? numerator / denominator : 0;
}
