import type { Queryable } from '../control-plane/postgres';
import { DependentObjectsError } from './errors';

/** An object the dataflow did not create that a drop of what it did create would take with it. */
export interface DependentObject {
  /** As Postgres names the kind: `view`, `table`, `materialized view`, `function`, … */
  kind: string;
  /** Schema-qualified, e.g. `public.vip_profiles`. */
  name: string;
  /** The dataflow's relation it is built on (`acme.profiles`), or null when it merely lives in the schema. */
  dependsOn: string | null;
}

/**
 * The objects outside what the dataflow created that depend on it: on its tables or views (a user's view in
 * `public` over `acme.profiles`, a foreign key), or on its schema (a user's table in `acme`). Found in pg_depend:
 * the dataflow's relations and their internal parts (row types, indexes, the views' rewrite rules) are "ours";
 * a normal dependency of anything else on ours is what `DROP … RESTRICT` would refuse. A view's dependency is
 * its rewrite rule's (pg_rewrite), a constraint's or trigger's belongs to its table: each is named by its owner.
 */
export async function findDependentObjects(
  db: Queryable,
  schema: string,
  /** The relations of `schema` the dataflow created (see ownRelations). */
  own: readonly string[],
): Promise<DependentObject[]> {
  const { rows } = await db.query<{ kind: string; name: string; ref_kind: string; ref_name: string }>(
    `WITH RECURSIVE
     schema_oid AS (SELECT oid FROM pg_namespace WHERE nspname = $1),
     parts(classid, objid) AS (
       SELECT 'pg_namespace'::regclass::oid, oid FROM schema_oid
       UNION
       SELECT 'pg_class'::regclass::oid, c.oid FROM pg_class c
       WHERE c.relnamespace = (SELECT oid FROM schema_oid) AND c.relname = ANY($2::text[])
       UNION
       SELECT d.classid, d.objid FROM pg_depend d
       JOIN parts p ON d.refclassid = p.classid AND d.refobjid = p.objid
       WHERE d.deptype IN ('a', 'i') AND d.refclassid <> 'pg_namespace'::regclass
     ),
     direct AS (
       SELECT DISTINCT d.classid, d.objid, d.refclassid, d.refobjid FROM pg_depend d
       JOIN parts p ON d.refclassid = p.classid AND d.refobjid = p.objid
       WHERE d.deptype = 'n'
         AND NOT EXISTS (SELECT 1 FROM parts q WHERE q.classid = d.classid AND q.objid = d.objid)
     ),
     owned AS (
       SELECT x.refclassid, x.refobjid,
         CASE
           WHEN x.classid IN ('pg_rewrite'::regclass, 'pg_constraint'::regclass, 'pg_attrdef'::regclass,
                              'pg_trigger'::regclass, 'pg_policy'::regclass) THEN 'pg_class'::regclass::oid
           ELSE x.classid
         END AS classid,
         COALESCE(
           (SELECT ev_class FROM pg_rewrite WHERE x.classid = 'pg_rewrite'::regclass AND oid = x.objid),
           (SELECT NULLIF(conrelid, 0) FROM pg_constraint WHERE x.classid = 'pg_constraint'::regclass AND oid = x.objid),
           (SELECT adrelid FROM pg_attrdef WHERE x.classid = 'pg_attrdef'::regclass AND oid = x.objid),
           (SELECT tgrelid FROM pg_trigger WHERE x.classid = 'pg_trigger'::regclass AND oid = x.objid),
           (SELECT polrelid FROM pg_policy WHERE x.classid = 'pg_policy'::regclass AND oid = x.objid),
           x.objid
         ) AS objid
       FROM direct x
     )
     SELECT DISTINCT o.type AS kind, o.identity AS name, r.type AS ref_kind, r.identity AS ref_name
     FROM owned w
     CROSS JOIN LATERAL pg_identify_object(w.classid, w.objid, 0) o
     CROSS JOIN LATERAL pg_identify_object(w.refclassid, w.refobjid, 0) r
     WHERE NOT EXISTS (SELECT 1 FROM parts q WHERE q.classid = w.classid AND q.objid = w.objid)
     ORDER BY 2, 4`,
    [schema, own],
  );
  // One entry per object, naming the relation it is built on rather than the schema it is in when it is both.
  const byName = new Map<string, DependentObject>();
  for (const row of rows) {
    const dependsOn = row.ref_kind === 'schema' ? null : row.ref_name;
    const known = byName.get(row.name);
    if (!known) byName.set(row.name, { kind: row.kind, name: row.name, dependsOn });
    else if (known.dependsOn === null && dependsOn !== null) known.dependsOn = dependsOn;
  }
  return [...byName.values()];
}

/** How many dependents a refusal names before "and N more". */
const NAMED_AT_MOST = 10;

/**
 * The refusal in words a user can act on, e.g. "The view public.vip_profiles depends on acme.profiles; drop it
 * first, or remove with --cascade to drop it too. Nothing was removed."
 */
export function dependentObjectsError(schema: string, dependents: readonly DependentObject[]): DependentObjectsError {
  const phrases = dependents
    .slice(0, NAMED_AT_MOST)
    .map((d) =>
      d.dependsOn === null
        ? `the ${d.kind} ${d.name} (not created by the dataflow) is in its schema ${schema}`
        : `the ${d.kind} ${d.name} depends on ${d.dependsOn}`,
    );
  if (dependents.length > NAMED_AT_MOST) phrases.push(`${dependents.length - NAMED_AT_MOST} more objects too`);
  const text = phrases.join('; ');
  const one = dependents.length === 1;
  return new DependentObjectsError(
    `${text.charAt(0).toUpperCase()}${text.slice(1)}; drop ${one ? 'it' : 'them'} first, or remove with --cascade ` +
      `to drop ${one ? 'it' : 'them'} too. Nothing was removed.`,
    dependents.map((d) => `${d.kind} ${d.name}`),
  );
}
