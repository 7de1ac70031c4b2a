import { InvalidIdentifierError } from '../../warehouse/errors';
import {
  columnNameForField,
  parseVersionedTableName,
  qualifiedName,
  quoteIdent,
  validateIdentifier,
  versionedTableName,
} from '../../warehouse/identifiers';

describe('identifiers', () => {
  test('quoting doubles embedded double quotes, so a name cannot close its quotes', () => {
    expect(quoteIdent('a"; DROP TABLE x; --')).toBe('"a""; DROP TABLE x; --"');
  });

  test('a name longer than 63 bytes is refused rather than silently truncated by Postgres', () => {
    expect(() => quoteIdent('é'.repeat(32))).toThrow(InvalidIdentifierError);
    expect(quoteIdent('a'.repeat(63))).toBe(`"${'a'.repeat(63)}"`);
  });

  test('a qualified name quotes both parts', () => {
    expect(qualifiedName('klaviyodemo', 'profiles')).toBe('"klaviyodemo"."profiles"');
  });

  test.each([
    ['joined_group_at', 'joined_group_at'],
    ['Joined-Group.At', 'joined_group_at'],
    ['a;drop table x', 'a_drop_table_x'],
    ['x"; DROP TABLE y; --', 'x___drop_table_y____'],
    ['$value', '_value'],
    ['1st', '_1st'],
    ['café', 'caf_'],
  ])('the API field %j becomes the column %j', (field, column) => {
    expect(columnNameForField(field)).toBe(column);
  });

  test('an API field with an empty name cannot become a column', () => {
    expect(() => columnNameForField('')).toThrow(InvalidIdentifierError);
  });

  test.each(['Upper', 'with space', 'x"y', '1abc', 'semi;colon', ''])('%j is not a valid column name', (name) => {
    expect(() => validateIdentifier(name, 'column')).toThrow(InvalidIdentifierError);
  });

  test('a per-version table name carries the version after a double underscore, and parses back', () => {
    expect(versionedTableName('list_memberships', 12)).toBe('list_memberships__v12');
    expect(parseVersionedTableName('list_memberships__v12')).toEqual({ table: 'list_memberships', version: 12 });
  });

  test('names that are not per-version tables do not parse', () => {
    for (const name of ['profiles', 'profiles__v0', 'profiles__v', 'a__b__v1', 'profiles_v1']) {
      expect(parseVersionedTableName(name)).toBeUndefined();
    }
  });
});
