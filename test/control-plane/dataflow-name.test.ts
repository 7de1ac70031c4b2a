import { MAX_DATAFLOW_NAME_LENGTH, validateDataflowName, warehouseSchemaName } from '../../control-plane/dataflow-name';
import { InvalidDataflowNameError, type NameProblem } from '../../control-plane/errors';

function problemOf(name: string): { problem: NameProblem; message: string } {
  try {
    validateDataflowName(name);
  } catch (err) {
    if (err instanceof InvalidDataflowNameError) return { problem: err.problem, message: err.message };
    throw err;
  }
  throw new Error(`${JSON.stringify(name)} was accepted`);
}

describe('dataflow names', () => {
  test.each(['KlaviyoDemo', 'a', 'A1b2C3', 'x'.repeat(MAX_DATAFLOW_NAME_LENGTH)])('%s is accepted', (name) => {
    expect(validateDataflowName(name)).toBe(name);
  });

  test('an empty name is rejected as empty', () => {
    expect(problemOf('')).toEqual({ problem: 'empty', message: 'The dataflow name is empty.' });
  });

  test('a name starting with a digit is rejected saying so', () => {
    const { problem, message } = problemOf('1flow');
    expect(problem).toBe('starts-with-digit');
    expect(message).toContain('starts with a digit');
  });

  test('a name with a space is rejected saying it contains a space', () => {
    const { problem, message } = problemOf('my flow');
    expect(problem).toBe('contains-space');
    expect(message).toContain('contains a space');
  });

  test('a name with a tab is rejected as containing whitespace', () => {
    expect(problemOf('my\tflow').problem).toBe('contains-whitespace');
  });

  test('a name with SQL in it is rejected naming the offending character', () => {
    const { problem, message } = problemOf('a;drop');
    expect(problem).toBe('contains-character');
    expect(message).toContain('contains ";"');
  });

  test('a name with an underscore is rejected, so it can never collide with dataflow_control', () => {
    expect(problemOf('dataflow_control').message).toContain('contains "_"');
  });

  test('a name starting with a symbol is rejected as not starting with a letter', () => {
    expect(problemOf('-flow').problem).toBe('starts-with-non-letter');
  });

  test('a non-ASCII letter is rejected naming the letter', () => {
    const { problem, message } = problemOf('café');
    expect(problem).toBe('non-ascii-letter');
    expect(message).toContain('non-ASCII letter "é"');
  });

  test('a name longer than the maximum is rejected with its length and the maximum', () => {
    const { problem, message } = problemOf('a'.repeat(MAX_DATAFLOW_NAME_LENGTH + 1));
    expect(problem).toBe('too-long');
    expect(message).toContain(
      `is ${MAX_DATAFLOW_NAME_LENGTH + 1} characters long; the maximum is ${MAX_DATAFLOW_NAME_LENGTH}`,
    );
  });

  test('"public" is reserved in any case, because it would be the public schema', () => {
    expect(problemOf('PUBLIC').problem).toBe('reserved');
  });

  test('the warehouse schema is the name in lower case', () => {
    expect(warehouseSchemaName('KlaviyoDemo')).toBe('klaviyodemo');
  });
});
