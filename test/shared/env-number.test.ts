import { readEnvNumber, readPositiveInteger } from '../../shared/env-number';
import { readConsoleSettings } from '../../console/main';
import { readNeedsAttentionHours } from '../../activities/needs-attention-timeout';
import { readSliceSettings } from '../../activities/slice-settings';

test('unset or blank gives undefined, so the caller picks its default', () => {
  expect(readEnvNumber({}, 'N', { min: 0 })).toBeUndefined();
  expect(readEnvNumber({ N: '  ' }, 'N', { min: 0 })).toBeUndefined();
  expect(readPositiveInteger({ N: '' }, 'N', 7)).toBe(7);
});

test('a value within the rule is read, spaces around it ignored', () => {
  expect(readEnvNumber({ N: ' 0.5 ' }, 'N', { min: 0, above: true })).toBe(0.5);
  expect(readEnvNumber({ N: '0' }, 'N', { min: 0 })).toBe(0);
  expect(readPositiveInteger({ N: '12' }, 'N', 7)).toBe(12);
});

test.each([
  ['0', { whole: true, min: 1 }, 'N must be a whole number, 1 or more, not "0".'],
  ['1.5', { whole: true, min: 1 }, 'N must be a whole number, 1 or more, not "1.5".'],
  ['0', { min: 0, above: true, unit: 'hours' }, 'N must be a number of hours, above 0, not "0".'],
  ['-1', { min: 0, unit: 'hours' }, 'N must be a number of hours, 0 or more, not "-1".'],
  ['soon', { min: 0 }, 'N must be a number, 0 or more, not "soon".'],
  [
    '70000',
    { whole: true, min: 0, max: 65535, what: 'a port number' },
    'N must be a port number, from 0 to 65535, not "70000".',
  ],
])('"%s" against %j is refused in words naming the variable and the rule', (text, rule, message) => {
  expect(() => readEnvNumber({ N: text }, 'N', rule)).toThrow(message);
});

test('the settings read through it keep their defaults and refuse what they cannot use', () => {
  expect(readSliceSettings({})).toEqual({ memoryBytes: 96 * 1024 * 1024, maxSlices: 40 });
  expect(() => readSliceSettings({ DATAFLOW_MAX_SLICES: '0' })).toThrow(/DATAFLOW_MAX_SLICES/);
  expect(readNeedsAttentionHours({ DATAFLOW_NEEDS_ATTENTION_HOURS: '0.5' })).toBe(0.5);
  expect(() => readNeedsAttentionHours({ DATAFLOW_NEEDS_ATTENTION_HOURS: '0' })).toThrow(/above 0/);
  expect(readConsoleSettings({}).port).toBe(8234);
  expect(readConsoleSettings({ DATAFLOW_CONSOLE_PORT: '0' }).port).toBe(0);
  expect(() => readConsoleSettings({ DATAFLOW_CONSOLE_PORT: '65536' })).toThrow(/port number/);
});
