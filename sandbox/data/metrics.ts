import { hexId, shortId } from '../ids';
import { hash32, RowRandom, saltOf } from '../random';
import type { Dataset } from './dataset';
import type { Resource, ResourceRef } from './row';
import { allRows, rowSource, type TableModel } from './table-model';
import { DAY, edgeString, isoSeconds } from './values';
import vocabulary from './metric-vocabulary.json';

const SALT = saltOf('metric');

/**
 * The sandbox's metric vocabulary (metric-vocabulary.json): the integrations metrics come from, the well-known metric
 * names, most frequent first (metrics beyond these are "Custom Event N"), and the properties of each kind's events.
 */
const INTEGRATIONS: Record<string, (typeof vocabulary.integrations)['api']> = vocabulary.integrations;
const KNOWN_METRICS = vocabulary.knownMetrics;
const PROPERTIES_BY_KIND: Record<string, string[][]> = vocabulary.propertiesByKind;

/** The mapped metrics Klaviyo knows (their ids are an enum in its OpenAPI description). */
const MAPPINGS = [
  'revenue',
  'added_to_cart',
  'started_checkout',
  'viewed_product',
  'ordered_product',
  'cancelled_sales',
  'refunded_sales',
] as const;

/** Metrics and what hangs off them: metric properties (fan-out), custom metrics, mapped metrics. */
export class Metrics {
  readonly count: number;
  private byId?: Map<string, number>;

  constructor(private readonly ds: Dataset) {
    this.count = ds.sizes.metrics;
  }

  id(index: number): string {
    return shortId(this.ds.seed, 'metric', index);
  }

  indexOfId(id: string): number | undefined {
    if (!this.byId) {
      this.byId = new Map();
      for (let i = 0; i < this.count; i++) this.byId.set(this.id(i), i);
    }
    return this.byId.get(id);
  }

  name(index: number): string {
    return index < KNOWN_METRICS.length ? KNOWN_METRICS[index].name : `Custom Event ${index} "β"`;
  }

  kind(index: number): string {
    return index < KNOWN_METRICS.length ? KNOWN_METRICS[index].kind : 'site';
  }

  ref(index: number): ResourceRef {
    return { type: 'metric', id: this.id(index), load: () => this.row(index) };
  }

  row(index: number): Resource {
    const integration = index < KNOWN_METRICS.length ? KNOWN_METRICS[index].integration : 'api';
    const created = this.ds.state.startSec - 700 * DAY + index * DAY;
    return {
      type: 'metric',
      id: this.id(index),
      attributes: {
        name: this.name(index),
        // Klaviyo types these as plain strings, not date-times.
        created: isoSeconds(created),
        updated: isoSeconds(created + (hash32(this.ds.seed, SALT, index) % (300 * DAY))),
        integration: INTEGRATIONS[integration],
      },
      relationships: { 'flow-triggers': { lazy: () => this.ds.flows.flowsTriggeredByMetric(index) } },
    };
  }

  propertyCount(metric: number): number {
    const max = Math.max(1, this.ds.sizes.metricPropertiesPerMetric);
    const names = PROPERTIES_BY_KIND[this.kind(metric)] ?? PROPERTIES_BY_KIND.site;
    return Math.min(names.length, 1 + (hash32(this.ds.seed, SALT, metric, 1) % max));
  }

  propertyRow(metric: number, k: number): Resource {
    const [property, inferred] = (PROPERTIES_BY_KIND[this.kind(metric)] ?? PROPERTIES_BY_KIND.site)[k];
    const r = new RowRandom(this.ds.seed, saltOf('metric-property'), metric, k);
    const samples: Record<string, unknown[]> = {
      Number: [0, 12.5, 100, -3],
      List: ['a', 'b'],
      String: [edgeString(r, this.ds.hostile), 'plain', '00123'],
      Object: ['{"a":1}'],
      Boolean: [true, false],
    };
    return {
      type: 'metric-property',
      id: hexId(this.ds.seed, 'metric-property', metric * 1000 + k),
      attributes: { label: property.replace(/^\$/, ''), property, inferred_type: inferred },
      additional: { sample_values: samples[inferred] ?? [] },
      relationships: { metric: { type: 'metric', id: this.id(metric) } },
    };
  }

  customCount(): number {
    return this.ds.sizes.customMetrics;
  }

  customId(index: number): string {
    return hexId(this.ds.seed, 'custom-metric', index);
  }

  customRow(index: number): Resource {
    const metrics =
      this.count === 0 ? [] : [index % this.count, (index + 5) % this.count].filter((m, i, a) => a.indexOf(m) === i);
    const created = this.ds.state.startSec - 200 * DAY + index * DAY;
    return {
      type: 'custom-metric',
      id: this.customId(index),
      attributes: {
        name:
          ['Revenue (all channels)', 'Net orders – refunds', 'Ünique "clicks"'][index % 3] +
          (index >= 3 ? ` ${index}` : ''),
        created: isoSeconds(created),
        updated: isoSeconds(created + 3 * DAY),
        definition: {
          aggregation_method: index % 2 === 0 ? 'value' : 'count',
          metric_groups: metrics.map((m) => ({
            metric_id: this.id(m),
            metric_filters: null,
            value_property: '$value',
          })),
        },
      },
      relationships: { metrics: metrics.map((m) => this.ref(m)) },
    };
  }

  customRef(index: number): ResourceRef {
    return { type: 'custom-metric', id: this.customId(index), load: () => this.customRow(index) };
  }

  mappedRow(index: number): Resource {
    const customs = this.customCount();
    return {
      type: 'mapped-metric',
      id: MAPPINGS[index],
      attributes: { updated: isoSeconds(this.ds.state.startSec - (index + 1) * 7 * DAY) },
      relationships: {
        metric: index % 2 === 0 && this.count > 0 ? this.ref((5 + index) % this.count) : null,
        'custom-metric': index % 2 === 1 && customs > 0 ? this.customRef(index % customs) : null,
      },
    };
  }

  models(): Record<string, TableModel> {
    const metricsSource = () => this.ds.cached('metrics', () => rowSource(this.count, (i) => this.row(i)));
    return {
      metrics: { source: metricsSource, indexOfId: (id) => this.indexOfId(id) },
      metric_properties: {
        source: (metric) => rowSource(this.propertyCount(metric), (k) => this.propertyRow(metric, k)),
        parents: () => allRows(metricsSource()),
      },
      custom_metrics: { source: () => rowSource(this.customCount(), (i) => this.customRow(i)) },
      mapped_metrics: {
        source: () => rowSource(Math.min(MAPPINGS.length, this.ds.sizes.mappedMetrics), (i) => this.mappedRow(i)),
      },
    };
  }
}
