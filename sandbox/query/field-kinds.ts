import type { CatalogTable } from '../../klaviyo/catalog';
import type { ValueKind } from '../data/row';

/** How values of a filter or sort field compare, from the catalog's filter value type or field API type. */
export function fieldKind(table: CatalogTable, field: string): ValueKind {
  const type = table.filters[field]?.valueType ?? table.fields.find((f) => f.name === field)?.apiType;
  if (type === undefined) {
    // Sort-only nested timestamps such as subscriptions.email.marketing.suppression.timestamp.
    return /(^|\.)(timestamp|created|updated|datetime)$|_at$/.test(field) ? 'datetime' : 'string';
  }
  return kindOfApiType(type);
}

export function kindOfApiType(type: string): ValueKind {
  if (type.includes('date-time')) return 'datetime';
  if (type.startsWith('number') || type.startsWith('integer')) return 'number';
  if (type.startsWith('boolean')) return 'boolean';
  if (type === 'any') return 'any';
  return 'string';
}

/** The allowed values of an `enum(a,b,...)` type, or null when open-ended (the catalog cut it with `...`). */
export function enumValues(type: string): string[] | null {
  const match = /^enum\((.*)\)(\|null)?$/.exec(type);
  if (!match) return null;
  const values = match[1].split(',');
  return values.includes('...') ? null : values;
}
