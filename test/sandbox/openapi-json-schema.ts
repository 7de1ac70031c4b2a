/**
 * OpenAPI 3.0 schema objects as JSON Schema: `nullable: true` becomes a `null` type (and `null` in an enum), and
 * `discriminator`, which only names the property that tells `oneOf` branches apart, is dropped. `oneOf` is read as
 * `anyOf`: Klaviyo's description uses it for "one of these shapes" without making the shapes exclusive (a campaign's
 * `send_options` is a oneOf of three identical objects, a metric property's sample value one of integer or number),
 * so no answer could match exactly one branch; OpenAPI generators, the official SDK's included, take the first match.
 *
 * One deliberate departure: the `data` of a to-one relationship may be null. Klaviyo's description types it as an
 * object only, but Klaviyo follows JSON:API (its maintainers say so in github.com/klaviyo/klaviyo-api-node/issues/40),
 * whose resource linkage for an empty to-one relationship is `null` (jsonapi.org/format, "Resource Linkage"); the
 * official SDK types that `data` as optional and its ObjectSerializer passes a null through untouched. A campaign
 * message without an image, or a coupon code assigned to no profile, has nothing else to say.
 */
export function jsonSchemaOf(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(jsonSchemaOf);
  if (node === null || typeof node !== 'object') return node;
  const source = isToOneRelationship(node) ? withNullableData(node) : (node as Record<string, unknown>);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(source)) {
    if (key === 'nullable' || key === 'discriminator') continue;
    if (key === 'oneOf') {
      out.anyOf = jsonSchemaOf(value);
      continue;
    }
    if (key === 'properties') {
      out[key] = Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([name, schema]) => [name, jsonSchemaOf(schema)]),
      );
    } else out[key] = jsonSchemaOf(value);
  }
  if (source.nullable !== true) return out;
  if (typeof out.type === 'string') {
    out.type = [out.type, 'null'];
    if (Array.isArray(out.enum)) out.enum = [...(out.enum as unknown[]), null];
    return out;
  }
  return { anyOf: [{ type: 'null' }, out] };
}

/** `{data: {type, id}, links: RelationshipLinks}`: a to-one relationship object. */
function isToOneRelationship(node: object): boolean {
  const properties = (node as { properties?: Record<string, { type?: string; required?: string[] }> }).properties;
  const links = (properties?.links as { $ref?: string } | undefined)?.$ref;
  const data = properties?.data;
  return (
    links === '#/components/schemas/RelationshipLinks' &&
    data?.type === 'object' &&
    ['type', 'id'].every((key) => data.required?.includes(key))
  );
}

function withNullableData(node: object): Record<string, unknown> {
  const relationship = node as { properties: Record<string, object> };
  return {
    ...relationship,
    properties: { ...relationship.properties, data: { ...relationship.properties.data, nullable: true } },
  };
}
