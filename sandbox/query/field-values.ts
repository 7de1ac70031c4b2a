import { isLazy, type Condition, type Resource, type Scalar, type ValueKind } from '../data/row';

/**
 * What a filter or sort field means on a resource: an explicit filter value, the id, a relationship id
 * (`metric_id`, `coupon.id`), or a dotted attribute path (`integration.name`, through arrays).
 */
export function fieldValue(resource: Resource, field: string): Scalar | Scalar[] {
  const explicit = resource.filterValues;
  if (explicit && Object.prototype.hasOwnProperty.call(explicit, field)) return explicit[field];
  if (field === 'id' || field === 'ids') return resource.id;
  const rel = /^(.+?)(?:_id|\.id)$/.exec(field);
  if (rel && resource.relationships && Object.prototype.hasOwnProperty.call(resource.relationships, rel[1])) {
    const value = resource.relationships[rel[1]];
    if (value === null) return null;
    if (Array.isArray(value)) return value.map((r) => r.id);
    if (isLazy(value)) return value.lazy().map((r) => r.id);
    return value.id;
  }
  return path({ ...resource.attributes, ...resource.additional }, field.split('.'));
}

function path(value: unknown, parts: string[]): Scalar | Scalar[] {
  if (parts.length === 0) return toScalar(value);
  if (Array.isArray(value)) return value.flatMap((item) => path(item, parts));
  if (value === null || typeof value !== 'object') return null;
  return path((value as Record<string, unknown>)[parts[0]], parts.slice(1));
}

function toScalar(value: unknown): Scalar | Scalar[] {
  if (value === undefined || value === null) return null;
  if (Array.isArray(value)) return value.flatMap((v) => toScalar(v));
  if (typeof value === 'object') return JSON.stringify(value);
  return value as Scalar;
}

/** A sort/filter key in comparable form: datetimes become epoch seconds. */
export function comparable(value: Scalar, kind: ValueKind): Scalar {
  if (kind === 'datetime' && typeof value === 'string') {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? null : ms / 1000;
  }
  return value;
}

/** Does a field value (possibly many values: any may match) satisfy a condition? */
export function matches(condition: Condition, value: Scalar | Scalar[]): boolean {
  if (condition.op === 'has') return Array.isArray(value) ? value.length > 0 : value !== null;
  if (Array.isArray(value)) return value.some((v) => matchesOne(condition, v));
  return matchesOne(condition, value);
}

function matchesOne(condition: Condition, raw: Scalar): boolean {
  const value = comparable(raw, condition.kind);
  const target = condition.value;
  switch (condition.op) {
    case 'equals':
      return value === target;
    case 'any':
      return Array.isArray(target) && target.includes(value);
    case 'contains':
      return typeof value === 'string' && typeof target === 'string' && value.includes(target);
    case 'starts-with':
      return typeof value === 'string' && typeof target === 'string' && value.startsWith(target);
    case 'ends-with':
      return typeof value === 'string' && typeof target === 'string' && value.endsWith(target);
    default:
      return compareOp(condition.op, value, target);
  }
}

function compareOp(op: string, value: Scalar, target: Scalar | Scalar[]): boolean {
  if (value === null || target === null || Array.isArray(target) || typeof value !== typeof target) return false;
  switch (op) {
    case 'greater-than':
      return value > target;
    case 'greater-or-equal':
      return value >= target;
    case 'less-than':
      return value < target;
    case 'less-or-equal':
      return value <= target;
    default:
      return false;
  }
}
