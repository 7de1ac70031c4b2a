import { InvalidIdentifierError } from './errors';

/** Postgres keeps the first 63 bytes of an identifier and silently drops the rest: longer ones are refused. */
export const MAX_IDENTIFIER_BYTES = 63;

/** The only shape of schema, table and column names this code creates. */
const SAFE_IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
const VERSION_SUFFIX = /^([a-z][a-z0-9_]*?)__v([1-9][0-9]*)$/;

/**
 * Quotes an identifier for SQL text: wraps it in double quotes and doubles any inside. Every name
 * this code puts in SQL goes through here, validated or not, so a name can never end the quoting.
 */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new InvalidIdentifierError('An empty name cannot be used as an identifier.');
  if (name.includes('\u0000')) throw new InvalidIdentifierError('An identifier cannot contain U+0000.');
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw new InvalidIdentifierError(
      `The identifier ${JSON.stringify(name)} is longer than Postgres' ${MAX_IDENTIFIER_BYTES} bytes.`,
    );
  }
  return `"${name.replace(/"/g, '""')}"`;
}

/** `"schema"."name"`. */
export function qualifiedName(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/**
 * Checks that a name has the shape this code creates (`^[a-z_][a-z0-9_]*$`, at most 63 bytes).
 * @param what what the name is, for the error message, e.g. "column"
 */
export function validateIdentifier(name: string, what: string): string {
  if (!SAFE_IDENTIFIER.test(name) || name.length > MAX_IDENTIFIER_BYTES) {
    throw new InvalidIdentifierError(
      `The ${what} name ${JSON.stringify(name)} is not allowed: use lower-case letters, digits and underscores, ` +
        `starting with a letter or underscore, at most ${MAX_IDENTIFIER_BYTES} characters.`,
    );
  }
  return name;
}

/** A catalog table name: a safe identifier that starts with a letter and has no `__` (the version separator). */
export function validateTableName(table: string): string {
  validateIdentifier(table, 'table');
  if (!/^[a-z]/.test(table) || table.includes('__') || table.endsWith('_') || table.length > 40) {
    throw new InvalidIdentifierError(
      `The table name ${JSON.stringify(table)} is not allowed: it must start with a letter, must not contain "__" ` +
        'or end with "_", and has at most 40 characters.',
    );
  }
  return table;
}

/**
 * The column an API field goes into: lower case, every character outside `[a-z0-9_]` replaced by
 * `_`, a leading digit prefixed with `_`. Two fields that map to one column are the layout's to detect.
 */
export function columnNameForField(field: string): string {
  let column = '';
  for (const char of field.toLowerCase()) {
    column += (char >= 'a' && char <= 'z') || (char >= '0' && char <= '9') || char === '_' ? char : '_';
  }
  if (column.length > 0 && column[0] >= '0' && column[0] <= '9') column = `_${column}`;
  if (column.length === 0) throw new InvalidIdentifierError('An API field with an empty name cannot become a column.');
  return validateIdentifier(column, 'column');
}

/** The table behind a reader view for one version: `profiles__v3`. */
export function versionedTableName(table: string, version: number): string {
  if (!Number.isSafeInteger(version) || version < 1) throw new InvalidIdentifierError(`Invalid version ${version}.`);
  return `${validateTableName(table)}__v${version}`;
}

/** The table and version of a per-version table name, or undefined for any other name. */
export function parseVersionedTableName(name: string): { table: string; version: number } | undefined {
  const match = VERSION_SUFFIX.exec(name);
  if (!match || match[1].includes('__')) return undefined;
  return { table: match[1], version: Number(match[2]) };
}
