import { createRowEncoder, encodeCell, escapeCopyText, jsonForPostgres } from '../../warehouse/copy-text';

describe('COPY text encoding', () => {
  test('backslash, tab, newline and carriage return are escaped; everything else passes through', () => {
    expect(escapeCopyText('a\\b\tc\nd\re "q" \'s\' $ 😀')).toBe('a\\\\b\\tc\\nd\\re "q" \'s\' $ 😀');
  });

  test('the text \\N stays text: only a real null is written as \\N', () => {
    expect(encodeCell('text', '\\N')).toBe('\\\\N');
    expect(encodeCell('text', null)).toBe('\\N');
    expect(encodeCell('text', '')).toBe('');
  });

  test('U+0000 in text becomes U+FFFD', () => {
    expect(encodeCell('text', 'a\u0000b')).toBe('a\uFFFDb');
  });

  test('the JSON escape \\u0000 becomes \\ufffd, but the text "\\u0000" in a string is kept', () => {
    expect(jsonForPostgres({ a: 'x\u0000y' })).toBe('{"a":"x\\ufffdy"}');
    expect(jsonForPostgres({ a: '\\u0000' })).toBe('{"a":"\\\\u0000"}');
    expect(jsonForPostgres({ 'k\u0000': 1 })).toBe('{"k\\ufffd":1}');
  });

  test('a lone surrogate in JSON becomes \\ufffd while a real pair is kept', () => {
    expect(jsonForPostgres(['\ud83d', '😀'])).toBe('["\\ufffd","😀"]');
  });

  test('a value of the wrong kind for a typed column becomes NULL rather than breaking the row', () => {
    expect(encodeCell('numeric', { a: 1 })).toBe('\\N');
    expect(encodeCell('numeric', Number.POSITIVE_INFINITY)).toBe('\\N');
    expect(encodeCell('boolean', true)).toBe('t');
  });

  test('a string in a numeric column is escaped too, so it can never add a column', () => {
    expect(encodeCell('numeric', '1\t2\n3')).toBe('1\\t2\\n3');
  });

  test('rows become tab-separated lines; jsonb is JSON even for a plain string', () => {
    const encode = createRowEncoder(['text', 'jsonb', 'bigint']);
    expect(
      encode([
        ['a\tb', 'str', '7'],
        [null, { $v: 1 }, null],
      ]),
    ).toBe('a\\tb\t"str"\t7\n\\N\t{"$v":1}\t\\N\n');
  });

  test('a row with the wrong number of cells is refused', () => {
    expect(() => createRowEncoder(['text', 'text'])([['only one']])).toThrow(RangeError);
  });
});
