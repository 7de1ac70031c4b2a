import { hexId, numericId, shortId, ulid } from '../ids';
import { hash32, RowRandom, saltOf } from '../random';
import type { Dataset } from './dataset';
import type { Resource, ResourceRef } from './row';
import { allRows, rowSource, type TableModel } from './table-model';
import { cutText, DAY, edgeString, HOSTILE_STRINGS, isoSeconds, longText, PRODUCT_NAMES } from './values';

/** Templates, universal content, images, forms (+ versions), reviews and web feeds. */
export class Content {
  constructor(private readonly ds: Dataset) {}

  private day(index: number, back: number): number {
    return this.ds.state.startSec - back * DAY + index * DAY;
  }

  templateId(index: number): string {
    return shortId(this.ds.seed, 'template', index);
  }

  templateRef(index: number): ResourceRef {
    return { type: 'template', id: this.templateId(index), load: () => this.templateRow(index) };
  }

  templateRow(index: number): Resource {
    const r = new RowRandom(this.ds.seed, saltOf('template'), index);
    const editor = r.pick(['CODE', 'SYSTEM_DRAGGABLE', 'USER_DRAGGABLE']);
    const name = `${r.pick(['Newsletter', 'Promo "Big"', 'Reçu', 'Transactional\\Receipt'])} template ${index}`;
    const body = r.chance(0.1) ? longText(20_000, r) : edgeString(r, this.ds.hostile);
    const created = this.day(index, 300);
    return {
      type: 'template',
      id: this.templateId(index),
      attributes: {
        name,
        editor_type: editor,
        html: `<html><head><style>p{font-family:"Helvetica"}</style></head><body><p class='x'>${body}</p></body></html>`,
        text: r.chance(0.5) ? `Plain text: ${cutText(body, 200)}` : null,
        amp: r.chance(0.1) ? '<!doctype html><html ⚡4email></html>' : null,
        created: isoSeconds(created),
        updated: isoSeconds(created + r.int(90 * DAY)),
      },
      additional: {
        definition:
          editor === 'CODE'
            ? null
            : {
                id: `def-${index}`,
                template_id: this.templateId(index),
                body: {
                  id: null,
                  properties: { id: null, css_class: null },
                  styles: { background_color: '#ffffff', width: 600 },
                  sections: [],
                },
                styles: [
                  {
                    style_type: 'base-styles',
                    properties: { mobile_optimizations: true, currency: 'USD' },
                    styles: { border_radius: index % 4, content_background_color: '#ffffff' },
                  },
                ],
              },
      },
    };
  }

  universalRow(index: number): Resource {
    const r = new RowRandom(this.ds.seed, saltOf('universal-content'), index);
    const created = this.day(index, 200);
    const type = r.pick(['html', 'text', 'spacer']);
    const content = edgeString(r, this.ds.hostile);
    // Each block type has its own data shape in Klaviyo's schema (HTMLBlockV0, TextBlockV0, SpacerBlockV0).
    const data =
      type === 'spacer'
        ? null
        : type === 'text'
          ? { content, display_options: { show_on: 'all' }, styles: { color: '#222222', font_size: 14 } }
          : { content, display_options: {} };
    return {
      type: 'template-universal-content',
      id: ulid(this.ds.seed, 'universal-content', index, created * 1000),
      attributes: {
        name: `Block ${index} ${r.pick(['footer', 'héader', '"CTA"'])}`,
        definition: { content_type: 'block', type, data },
        created: isoSeconds(created),
        updated: isoSeconds(created + r.int(30 * DAY)),
        screenshot_status: r.pick(['completed', 'failed', 'generating', 'never_generated', 'not_renderable', 'stale']),
        screenshot_url: `https://screenshots.example.com/${index}.png`,
      },
    };
  }

  imageId(index: number): string {
    return numericId(this.ds.seed, 'image', index, 1);
  }

  imageRef(index: number): ResourceRef {
    return { type: 'image', id: this.imageId(index), load: () => this.imageRow(index) };
  }

  imageRow(index: number): Resource {
    const r = new RowRandom(this.ds.seed, saltOf('image'), index);
    const format = r.pick(['jpeg', 'png', 'gif']);
    return {
      type: 'image',
      id: this.imageId(index),
      attributes: {
        name: `${r.pick(['hero', 'logo', 'bannière', 'product "shot"'])}-${index}.${format}`,
        image_url: `https://cdn.example.com/images/${index}.${format}`,
        format,
        size: r.between(1_000, 5_000_000),
        hidden: r.chance(0.1),
        updated_at: isoSeconds(this.day(index, 150) + r.int(DAY)),
      },
    };
  }

  formId(index: number): string {
    return shortId(this.ds.seed, 'form', index);
  }

  versionCount(form: number): number {
    const max = Math.max(1, this.ds.sizes.formVersionsPerForm);
    return 1 + (hash32(this.ds.seed, saltOf('form'), form) % max);
  }

  formRow(index: number): Resource {
    const r = new RowRandom(this.ds.seed, saltOf('form'), index);
    const created = this.day(index, 250);
    const versions: ResourceRef[] = [];
    for (let k = 0; k < this.versionCount(index); k++) {
      versions.push({ type: 'form-version', id: this.versionId(index, k), load: () => this.versionRow(index, k) });
    }
    return {
      type: 'form',
      id: this.formId(index),
      attributes: {
        name: `${r.pick(['Popup 10% off', 'Footer signup', 'Spin "to" win 🎡'])} ${index}`,
        status: r.pick(['draft', 'live']),
        ab_test: versions.length > 1,
        created_at: isoSeconds(created),
        updated_at: isoSeconds(created + r.int(40 * DAY)),
      },
      // Only the single-object GET serves a form's definition: its versions, each with steps of columns.
      additional: {
        definition: {
          versions: versions.map((version, k) => ({
            id: Number(version.id),
            name: `Variation ${String.fromCharCode(65 + k)}`,
            steps: [{ id: `${version.id}-1`, name: 'Step 1', columns: [{ id: `${version.id}-1-1`, rows: [] }] }],
          })),
        },
      },
      relationships: { 'form-versions': versions },
    };
  }

  versionId(form: number, k: number): string {
    return numericId(this.ds.seed, 'form-version', form * 100 + k, 1_000_000);
  }

  versionRow(form: number, k: number): Resource {
    const r = new RowRandom(this.ds.seed, saltOf('form-version'), form, k);
    const created = this.day(form, 250) + k * DAY;
    const ab = this.versionCount(form) > 1;
    return {
      type: 'form-version',
      id: this.versionId(form, k),
      attributes: {
        form_type: r.pick(['banner', 'embed', 'flyout', 'full_page', 'popup']),
        variation_name: `Variation ${String.fromCharCode(65 + k)}`,
        ab_test: ab ? { variation_name: `Variation ${String.fromCharCode(65 + k)}` } : null,
        status: r.pick(['draft', 'live']),
        created_at: isoSeconds(created),
        updated_at: isoSeconds(created + r.int(20 * DAY)),
      },
      relationships: { form: { type: 'form', id: this.formId(form), load: () => this.formRow(form) } },
    };
  }

  reviewRow(index: number): Resource {
    const ds = this.ds;
    const r = new RowRandom(ds.seed, saltOf('review'), index);
    const type = r.pick(['review', 'review', 'review', 'question', 'rating', 'store']);
    const created =
      this.ds.state.startSec - 180 * DAY + Math.floor((index * 180 * DAY) / Math.max(1, ds.sizes.reviews));
    const items = ds.sizes.catalogItems;
    const item = type !== 'store' && items > 0 ? r.int(items) : -1;
    const status = r.pick(['published', 'published', 'unpublished', 'rejected', 'featured', 'pending']);
    const content = r.chance(0.05) ? longText(3000, r) : edgeString(r, ds.hostile);
    return {
      type: 'review',
      id: numericId(ds.seed, 'review', index, 1_000_000),
      attributes: {
        email: r.chance(0.8) ? `reviewer${index}@example.com` : null,
        status:
          status === 'rejected'
            ? {
                value: status,
                rejection_reason: r.chance(0.5)
                  ? { reason: 'other', status_explanation: 'Contains "bad" words' }
                  : { reason: 'profanity_or_inappropriate' },
              }
            : { value: status },
        verified: r.chance(0.6),
        review_type: type,
        created: isoSeconds(created),
        updated: isoSeconds(created + r.int(10 * DAY)),
        images: r.chance(0.2) ? [`https://cdn.example.com/reviews/${index}.jpg`] : [],
        product: item >= 0 ? ds.catalog.productSummary(item) : null,
        rating: type === 'question' ? null : r.between(1, 5),
        author: r.chance(0.9) ? r.pick(['Zoë K.', "O'Brien", 'anon', '山田']) : null,
        content: ds.hostile && r.chance(0.1) ? r.pick(HOSTILE_STRINGS) : content,
        title: r.chance(0.7) ? r.pick(['Great!', 'Meh 😐', 'Not "as described"']) : null,
        smart_quote: r.chance(0.3) ? 'Would buy again' : null,
        // Klaviyo's schema makes public_reply optional but not nullable: a review without one leaves it out.
        ...(r.chance(0.2)
          ? { public_reply: { content: 'Thanks!', author: 'Store', updated: isoSeconds(created + DAY) } }
          : {}),
      },
      relationships: { events: { lazy: () => [] }, item: item >= 0 ? ds.catalog.itemRef(item) : null },
      filterValues: { status: status, 'item.id': item >= 0 ? ds.catalog.itemId(item) : null },
    };
  }

  webFeedRow(index: number): Resource {
    const r = new RowRandom(this.ds.seed, saltOf('web-feed'), index);
    const created = this.day(index, 120);
    return {
      type: 'web-feed',
      id: hexId(this.ds.seed, 'web-feed', index, 12),
      attributes: {
        name: `${r.pick(['Blog feed', 'Produits "phares"', 'Weather ☀️'])} ${index}`,
        url: `https://feeds.example.com/${index}.json?a=1&b="2"`,
        request_method: r.pick(['get', 'post']),
        content_type: r.pick(['json', 'xml']),
        created: isoSeconds(created),
        updated: isoSeconds(created + r.int(50 * DAY)),
        status: r.pick(['ok', 'disabled', 'refreshing', 'critical_nightly_refresh_timeout', null]),
      },
    };
  }

  productName(index: number): string {
    return PRODUCT_NAMES[index % PRODUCT_NAMES.length];
  }

  models(): Record<string, TableModel> {
    const s = this.ds.sizes;
    const forms = () => this.ds.cached('forms', () => rowSource(s.forms, (i) => this.formRow(i)));
    return {
      templates: { source: () => rowSource(s.templates, (i) => this.templateRow(i)) },
      universal_content: { source: () => rowSource(s.universalContent, (i) => this.universalRow(i)) },
      images: { source: () => rowSource(s.images, (i) => this.imageRow(i)) },
      forms: { source: forms },
      form_versions: {
        source: (form) => rowSource(this.versionCount(form), (k) => this.versionRow(form, k)),
        parents: () => allRows(forms()),
      },
      reviews: { source: () => rowSource(s.reviews, (i) => this.reviewRow(i)) },
      web_feeds: { source: () => rowSource(s.webFeeds, (i) => this.webFeedRow(i)) },
    };
  }
}
