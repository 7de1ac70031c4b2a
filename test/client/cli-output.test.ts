import {
  ProgressBoard,
  progressLine,
  renderHistory,
  renderDataflowList,
  renderRunResult,
  eraseLines,
} from '../../client/cli-output';
import { reportError } from '../../client/cli';
import { OperationFailedError, retryingText, type LiveProgress } from '../../client/dataflow-api';
import type { RunRecord } from '../../client/run-history';
import { UserInputError } from '../../shared/user-input-error';
import { DataflowNotFoundError } from '../../control-plane/errors';

/** Pure parts of the CLI's output and exit codes, shared with the console through the API's types. */

describe('exit codes follow reportOf', () => {
  let spy: jest.SpyInstance;
  beforeEach(() => (spy = jest.spyOn(console, 'error').mockImplementation(() => undefined)));
  afterEach(() => spy.mockRestore());

  test('input and not-found are 2, a failed operation 3, anything else 1', () => {
    expect(reportError(new UserInputError('bad'), false)).toBe(2);
    expect(reportError(new DataflowNotFoundError('Ghost'), false)).toBe(2);
    expect(reportError(new OperationFailedError(new Error('Klaviyo said no'), 'http://ui/run'), false)).toBe(3);
    expect(reportError(new Error('socket hang up'), false)).toBe(1);
  });

  test('--json prints the message with its code and kind', () => {
    reportError(new UserInputError('Nothing to roll back.', 'NothingToRollBack'), true);
    expect(JSON.parse(spy.mock.calls[0][0] as string)).toEqual({
      error: 'Nothing to roll back.',
      code: 'NothingToRollBack',
      kind: 'input',
    });
  });
});

describe('retryingText', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  test('names the reason, the attempt and when the next one starts', () => {
    expect(
      retryingText(
        {
          attempt: 3,
          maximumAttempts: 5,
          lastFailure: { message: 'Activity task failed', cause: { message: 'Klaviyo 503. Try later.' } },
          nextAttemptScheduleTime: { seconds: now / 1000 + 8 },
        },
        now,
      ),
    ).toBe('Klaviyo 503, attempt 3/5, next in 8 s');
  });
  test('says nothing on a first attempt', () => {
    expect(retryingText({ attempt: 1 }, now)).toBeUndefined();
  });
});

describe('ProgressBoard', () => {
  const progress = (rows: number, retrying?: string): LiveProgress => ({
    dataflow: 'Acme',
    phase: 'extracting',
    version: 2,
    status: 'RUNNING',
    tables: [
      { table: 'profiles', state: 'done', rows: 10, pages: 1 },
      { table: 'events', state: 'running', rows, pages: 3, ...(retrying ? { retrying } : {}) },
      { table: 'metrics', state: 'pending', rows: 0, pages: 0 },
    ],
  });

  test('draws a header and one short line per running table, with its rate', () => {
    const board = new ProgressBoard();
    board.lines(progress(100), 0);
    const lines = board.lines(progress(300), 2_000);
    expect(lines[0]).toBe('[extracting v2] 1/3 tables done');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^ {2}events\s+300 rows\s+3 pages\s+100 rows\/s {2}running$/);
    expect(lines.every((l) => l.length < 120)).toBe(true);
  });

  test('shows why a table is retried', () => {
    const lines = new ProgressBoard().lines(progress(0, 'Klaviyo 503, attempt 3/5, next in 8 s'), 0);
    expect(lines[1]).toMatch(/retrying: Klaviyo 503, attempt 3\/5, next in 8 s$/);
  });

  test("says until when a run waits for Klaviyo's daily report quota, and for which tables", () => {
    const waiting: LiveProgress = {
      ...progress(0),
      phase: 'waiting-for-quota',
      quotaWait: { until: '2026-01-02T05:00:01.000Z', tables: ['flow_daily_series'] },
    };
    expect(new ProgressBoard().lines(waiting, 0)[0]).toBe(
      "[waiting-for-quota v2] 1/3 tables done — waiting for Klaviyo's daily report quota until " +
        '2026-01-02T05:00:01.000Z (flow_daily_series)',
    );
    expect(progressLine(waiting)).toMatch(
      / — waiting for Klaviyo's daily report quota until 2026-01-02T05:00:01\.000Z /,
    );
  });

  test('erases what it drew before redrawing', () => {
    expect(eraseLines(0)).toBe('');
    expect(eraseLines(3)).toBe('\x1b[3F\x1b[J');
  });
});

describe('list and history', () => {
  const base = {
    workflowId: 'w',
    runId: 'r',
    trigger: 'manual',
    start: new Date('2026-01-01T00:00:00Z'),
    end: new Date('2026-01-01T00:00:01Z'),
    durationMs: 1000,
    tables: [],
    error: null,
    description: null,
    url: 'http://ui/namespaces/default/workflows/w/r/history',
  };

  test('a rollback shows its versions, a skipped run says why', () => {
    const runs: RunRecord[] = [
      { ...base, operation: 'rollback', status: 'COMPLETED', version: 1, fromVersion: 2, toVersion: 1 },
      {
        ...base,
        operation: 'run',
        trigger: 'schedule',
        status: 'SKIPPED',
        version: null,
        description: 'Skipped: a run was in progress.',
      },
    ];
    const text = renderHistory('Acme', runs);
    expect(text).toMatch(/^rollback\s+manual\s+COMPLETED\s+2 → 1\s/m);
    expect(text).toMatch(/^run\s+schedule\s+SKIPPED\s+.*Skipped: a run was in progress\.$/m);
  });

  test('a run swept for deletions shows how many rows each table lost, in the history and in run --wait', () => {
    const tables = [
      { table: 'profiles', rows: 2995, pages: 1, bytes: 0, deleted: 5 },
      { table: 'events', rows: 40, pages: 1, bytes: 0 },
    ];
    const history = renderHistory('Acme', [{ ...base, operation: 'run', status: 'COMPLETED', version: 4, tables }]);
    expect(history).toContain('profiles=2995 (5 deleted)');
    expect(history).toContain('events=40');
    expect(history).not.toContain('events=40 (');
    const result = renderRunResult({ dataflow: 'Acme', version: 4, tables, notices: [] });
    expect(result).toMatch(/^profiles\s+2995\s+1\s+in full\s+5$/m);
    expect(result).toMatch(/^events\s+40\s+1\s+in full\s*$/m);
  });

  test('the list shows the last error, shortened', () => {
    const text = renderDataflowList([
      {
        id: 'x',
        name: 'Acme',
        displayName: 'Acme',
        description: '',
        connectorType: 'Klaviyo',
        baseUrl: 'https://a.klaviyo.com',
        apiKeyHint: 'abcd',
        accountId: null,
        status: 'Failed',
        lastError: `The API key lacks scopes that selected tables need: ${'x'.repeat(200)}`,
        schedule: null,
        currentVersion: null,
        deletionSweep: 'daily',
        tablesCount: 1,
        createdAt: new Date(),
        updatedAt: new Date(),
        lastRefreshAt: null,
        nextRun: null,
        scheduleSpec: null,
        schedulePaused: false,
      },
    ]);
    expect(text).toMatch(/Last Error/);
    expect(text).toMatch(/Failed .*The API key lacks scopes that selected tables need: x+…$/m);
  });
});
