import type { Queryable } from '../control-plane/postgres';
import { parseVersionedTableName, qualifiedName, quoteIdent, validateIdentifier } from './identifiers';
import { SYSTEM_COLUMNS } from './table-layout';
import { listSchemaRelations, readerViews } from './warehouse-schema';

export interface Entity {
  /** The catalog table, e.g. `profiles`. */
  table: string;
  /** The name readers query: `<schema>.<table>`, e.g. `klaviyodemo.profiles`. */
  view: string;
  rows: number;
  /** The version the view shows. */
  version: number | null;
}

/**
 * The tables a dataflow shows readers, with their exact row counts and the version behind each.
 * Counted in one statement, as a reader would query them: the counts all come from one version.
 */
export async function entities(db: Queryable, schema: string): Promise<Entity[]> {
  validateIdentifier(schema, 'schema');
  const views = readerViews(await listSchemaRelations(db, schema));
  if (views.length === 0) return [];
  const { rows: targets } = await db.query<{ view: string; target: string }>(
    `SELECT v.relname AS view, t.relname AS target
     FROM pg_class v
     JOIN pg_namespace n ON n.oid = v.relnamespace
     JOIN pg_rewrite r ON r.ev_class = v.oid
     JOIN pg_depend d ON d.objid = r.oid AND d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
     JOIN pg_class t ON t.oid = d.refobjid AND t.oid <> v.oid AND t.relkind = 'r'
     WHERE n.nspname = $1 AND v.relkind = 'v'`,
    [schema],
  );
  const catalogVersion = new Map(targets.map((t) => [t.view, parseVersionedTableName(t.target)?.version ?? null]));
  const counts = views
    .map(
      (view, index) =>
        `SELECT ${index} AS position, count(*) AS rows, max(${quoteIdent(SYSTEM_COLUMNS.version)}) AS version ` +
        `FROM ${qualifiedName(schema, view)}`,
    )
    .join(' UNION ALL ');
  const { rows } = await db.query<{ position: number; rows: string; version: number | null }>(counts);
  return rows
    .sort((a, b) => a.position - b.position)
    .map((row) => ({
      table: views[row.position],
      view: `${schema}.${views[row.position]}`,
      rows: Number(row.rows),
      version: row.version ?? catalogVersion.get(views[row.position]) ?? null,
    }));
}

export interface EntityPreview {
  table: string;
  version: number | null;
  columns: string[];
  rows: Array<Record<string, unknown>>;
}

/**
 * The first `limit` rows of one reader view, in key order, as a reader sees them: the live version only.
 * Only a view the dataflow shows can be named; anything else is "not found", never a query.
 */
export async function previewEntity(
  db: Queryable,
  schema: string,
  table: string,
  limit = 50,
): Promise<EntityPreview | null> {
  validateIdentifier(schema, 'schema');
  const views = readerViews(await listSchemaRelations(db, schema));
  if (!views.includes(table)) return null;
  const bounded = Math.max(1, Math.min(500, Math.trunc(limit)));
  const result = await db.query<Record<string, unknown>>(
    `SELECT * FROM ${qualifiedName(schema, table)} ORDER BY 1 LIMIT ${bounded}`,
  );
  const columns = result.fields.map((f) => f.name);
  const version = result.rows.length > 0 ? Number(result.rows[0][SYSTEM_COLUMNS.version]) : null;
  return { table, version, columns, rows: result.rows };
}
