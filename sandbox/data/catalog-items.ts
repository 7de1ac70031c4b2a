import { RowRandom, saltOf } from '../random';
import type { Dataset } from './dataset';
import type { Resource, ResourceRef } from './row';
import { allRows, rowSource, type TableModel } from './table-model';
import { DAY, edgeString, HOSTILE_STRINGS, isoSeconds, longText, PRODUCT_NAMES } from './values';

const CATEGORY_NAMES = [
  'Apparel',
  'Home & Garden',
  'Café "Specials"',
  'Électronique',
  'Toys 🧸',
  'Sale\\Clearance',
] as const;

/** Catalog items, variants (a fixed number per item), categories and the category → items join. */
export class CatalogItems {
  constructor(private readonly ds: Dataset) {}

  get count(): number {
    return this.ds.sizes.catalogItems;
  }

  private get categories(): number {
    return this.ds.sizes.catalogCategories;
  }

  externalId(index: number): string {
    // Every seventh item has a numeric-looking external id with leading zeros.
    return index % 7 === 0 ? String(index).padStart(6, '0') : `SKU-${index}`;
  }

  itemId(index: number): string {
    return `$custom:::$default:::${this.externalId(index)}`;
  }

  itemRef(index: number): ResourceRef {
    return { type: 'catalog-item', id: this.itemId(index), load: () => this.itemRow(index) };
  }

  productSummary(index: number): Record<string, unknown> {
    return {
      url: `https://shop.example.com/products/${this.externalId(index)}`,
      name: PRODUCT_NAMES[index % PRODUCT_NAMES.length],
      image_url: index % 3 === 0 ? null : `https://cdn.example.com/items/${index}.jpg`,
      external_id: this.externalId(index),
    };
  }

  categoriesOfItem(index: number): number[] {
    if (this.categories === 0) return [];
    const first = index % this.categories;
    const second = (index * 3 + 1) % this.categories;
    return first === second ? [first] : [first, second];
  }

  itemRow(index: number): Resource {
    const ds = this.ds;
    const r = new RowRandom(ds.seed, saltOf('catalog-item'), index);
    const created = ds.state.startSec - 300 * DAY + index * 3600;
    const variants: ResourceRef[] = [];
    for (let k = 0; k < ds.sizes.catalogVariantsPerItem; k++)
      variants.push(this.variantRef(index * ds.sizes.catalogVariantsPerItem + k));
    return {
      type: 'catalog-item',
      id: this.itemId(index),
      attributes: {
        external_id: this.externalId(index),
        title: `${PRODUCT_NAMES[index % PRODUCT_NAMES.length]} ${index}`,
        description: r.chance(0.05)
          ? longText(5000, r)
          : ds.hostile && r.chance(0.2)
            ? r.pick(HOSTILE_STRINGS)
            : edgeString(r, false),
        price: r.chance(0.05) ? null : r.amount(0.5, 999),
        url: `https://shop.example.com/products/${this.externalId(index)}`,
        image_full_url: r.chance(0.8) ? `https://cdn.example.com/items/${index}.jpg` : null,
        image_thumbnail_url: r.chance(0.8) ? `https://cdn.example.com/items/${index}_thumb.jpg` : null,
        images: r.chance(0.7)
          ? [`https://cdn.example.com/items/${index}-1.jpg`, `https://cdn.example.com/items/${index}-2.jpg`]
          : [],
        custom_metadata: r.chance(0.5)
          ? { material: r.pick(['coton', 'wool "merino"', 'n/a']), 'Size Chart': { S: 1, M: 2 } }
          : null,
        published: r.chance(0.9),
        created: isoSeconds(created),
        updated: isoSeconds(created + r.int(60 * DAY)),
      },
      relationships: { variants },
      filterValues: {
        ids: this.itemId(index),
        'category.id': this.categoriesOfItem(index).map((c) => this.categoryId(c)),
      },
    };
  }

  variantId(global: number): string {
    const per = Math.max(1, this.ds.sizes.catalogVariantsPerItem);
    return `$custom:::$default:::${this.externalId(Math.floor(global / per))}-VAR-${global % per}`;
  }

  variantRef(global: number): ResourceRef {
    return { type: 'catalog-variant', id: this.variantId(global), load: () => this.variantRow(global) };
  }

  variantRow(global: number): Resource {
    const per = Math.max(1, this.ds.sizes.catalogVariantsPerItem);
    const item = Math.floor(global / per);
    const r = new RowRandom(this.ds.seed, saltOf('catalog-variant'), global);
    const created = this.ds.state.startSec - 300 * DAY + item * 3600 + (global % per) * 60;
    const sku = `${this.externalId(item)}-${['S', 'M', 'L', 'XL', 'Ünisize'][(global % per) % 5]}`;
    return {
      type: 'catalog-variant',
      id: this.variantId(global),
      attributes: {
        external_id: `${this.externalId(item)}-VAR-${global % per}`,
        title: `${PRODUCT_NAMES[item % PRODUCT_NAMES.length]} / ${['Small', 'Medium', 'Large', 'XL', 'One "size"'][(global % per) % 5]}`,
        description: edgeString(r, this.ds.hostile),
        sku,
        inventory_policy: r.int(3),
        inventory_quantity: r.chance(0.1) ? null : r.int(500),
        price: r.amount(0.5, 999),
        url: `https://shop.example.com/products/${this.externalId(item)}?variant=${global}`,
        image_full_url: null,
        image_thumbnail_url: null,
        images: [],
        custom_metadata: null,
        published: r.chance(0.9),
        created: isoSeconds(created),
        updated: isoSeconds(created + r.int(30 * DAY)),
      },
      relationships: { item: this.itemRef(item) },
      filterValues: { ids: this.variantId(global), 'item.id': this.itemId(item), sku },
    };
  }

  categoryId(index: number): string {
    return `$custom:::$default:::CAT-${index}`;
  }

  itemsOfCategory(category: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.count; i++) if (this.categoriesOfItem(i).includes(category)) out.push(i);
    return out;
  }

  categoryRow(index: number): Resource {
    return {
      type: 'catalog-category',
      id: this.categoryId(index),
      attributes: {
        external_id: `CAT-${index}`,
        name: `${CATEGORY_NAMES[index % CATEGORY_NAMES.length]}${index >= CATEGORY_NAMES.length ? ` ${index}` : ''}`,
        updated: isoSeconds(this.ds.state.startSec - 100 * DAY + index * DAY),
      },
      relationships: { items: { lazy: () => this.itemsOfCategory(index).map((i) => this.itemRef(i)) } },
      filterValues: { ids: this.categoryId(index), 'item.id': this.itemsOfCategory(index).map((i) => this.itemId(i)) },
    };
  }

  models(): Record<string, TableModel> {
    const s = this.ds.sizes;
    const categories = () =>
      this.ds.cached('catalog_categories', () => rowSource(s.catalogCategories, (i) => this.categoryRow(i)));
    return {
      catalog_items: { source: () => rowSource(this.count, (i) => this.itemRow(i)) },
      catalog_variants: { source: () => rowSource(this.count * s.catalogVariantsPerItem, (g) => this.variantRow(g)) },
      catalog_categories: { source: categories },
      catalog_category_items: {
        source: (category) => {
          const items = this.itemsOfCategory(category);
          return rowSource(items.length, (k) => this.itemRow(items[k]));
        },
        parents: () => allRows(categories()),
      },
    };
  }
}
