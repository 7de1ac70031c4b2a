import { useState } from 'preact/hooks';
import type { ScheduleRequest, ScheduleView } from '../../api-types';
import { api, ApiError, enc } from '../api';
import { ErrorAlert, Notice } from '../components/alert';
import { ConfirmDialog } from '../components/dialog';
import { Fact, Facts } from '../components/facts';
import { Field } from '../components/field';
import { Breadcrumbs, PageHeading } from '../components/layout';
import { NavButton } from '../components/link';
import { DateTime } from '../components/time';
import { usePolled, useTitle } from '../hooks';
import { dataflowPath } from '../router';

type Unit = 'm' | 'h' | 'd';

/** A dataflow's schedule: what it is, set it (every N minutes/hours/days, or cron in UTC), pause, resume, delete. */
export function SchedulePage({ name }: { name: string }) {
  useTitle(`${name} · Schedule`);
  const base = `/api/dataflows/${enc(name)}/schedule`;
  const schedule = usePolled<ScheduleView | null>(base);
  const [kind, setKind] = useState<'every' | 'cron'>('every');
  const [amount, setAmount] = useState('6');
  const [unit, setUnit] = useState<Unit>('h');
  const [cron, setCron] = useState('0 */6 * * *');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);

  const act = async (work: () => Promise<string>) => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      setNotice(await work());
      await schedule.reload();
      return true;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy(false);
    }
  };

  const save = () => {
    const body: ScheduleRequest = kind === 'every' ? { every: `${amount.trim()}${unit}` } : { cron: cron.trim() };
    void act(async () => {
      const s = await api.put<ScheduleView>(base, body);
      return `Schedule saved: ${s.spec}.`;
    });
  };

  const fieldError = (field: string) => (error instanceof ApiError && error.field === field ? error : null);
  const everyError = fieldError('every');
  const cronError = fieldError('cron');
  const generalError = everyError || cronError ? null : error;
  const s = schedule.data;

  return (
    <>
      <Breadcrumbs items={[{ label: name, href: dataflowPath(name) }, { label: 'Schedule' }]} />
      <PageHeading>Schedule of {name}</PageHeading>
      <div class="toolbar">
        <NavButton to={dataflowPath(name)}>Back to {name}</NavButton>
      </div>
      <section class="section" aria-labelledby="current-heading">
        <h2 id="current-heading">Current schedule</h2>
        <ErrorAlert error={s === undefined ? schedule.error : null} />
        {schedule.loading && s === undefined ? (
          <p class="muted">Loading…</p>
        ) : s === null ? (
          <p class="empty">{name} is not scheduled: it runs only when started. Set a schedule below.</p>
        ) : s ? (
          <>
            <Facts>
              <Fact label="Runs">{s.spec}</Fact>
              <Fact label="State">
                <span class={`pill ${s.paused ? 'pill-warn' : 'pill-ok'}`}>{s.paused ? 'Paused' : 'Active'}</span>
              </Fact>
              <Fact label="Next run">
                {s.paused ? <span class="muted">none while paused</span> : <DateTime iso={s.nextRun} />}
              </Fact>
            </Facts>
            <div class="toolbar">
              <button
                type="button"
                class="btn"
                disabled={busy}
                onClick={() =>
                  void act(async () => {
                    await api.post<ScheduleView>(`${base}/${s.paused ? 'resume' : 'pause'}`);
                    return s.paused ? 'Schedule resumed.' : 'Schedule paused.';
                  })
                }
              >
                {s.paused ? 'Resume' : 'Pause'}
              </button>
              <button
                type="button"
                class="btn btn-danger-outline"
                disabled={busy}
                onClick={() => setConfirmDelete(true)}
              >
                Delete schedule
              </button>
            </div>
          </>
        ) : null}
      </section>
      <section class="section" aria-labelledby="set-heading">
        <h2 id="set-heading">{s ? 'Change the schedule' : 'Set a schedule'}</h2>
        <form
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            save();
          }}
        >
          <fieldset class="radio-group">
            <legend>Run</legend>
            <label class="check-inline">
              <input type="radio" name="kind" checked={kind === 'every'} onChange={() => setKind('every')} /> At an
              interval
            </label>
            <label class="check-inline">
              <input type="radio" name="kind" checked={kind === 'cron'} onChange={() => setKind('cron')} /> On a cron
              expression
            </label>
          </fieldset>
          {kind === 'every' ? (
            <div class="field">
              <div class="input-row">
                <label for="every-amount">Every</label>
                <input
                  id="every-amount"
                  type="number"
                  min={1}
                  step={1}
                  class="narrow"
                  value={amount}
                  aria-invalid={everyError ? true : undefined}
                  onInput={(e) => setAmount(e.currentTarget.value)}
                />
                <label for="every-unit" class="visually-hidden">
                  Unit
                </label>
                <select id="every-unit" value={unit} onChange={(e) => setUnit(e.currentTarget.value as Unit)}>
                  <option value="m">minutes</option>
                  <option value="h">hours</option>
                  <option value="d">days</option>
                </select>
              </div>
              <ErrorAlert error={everyError} />
            </div>
          ) : (
            <Field
              id="cron"
              label="Cron expression (UTC)"
              help={
                <>
                  Five fields, in UTC: minute, hour, day of month, month, day of week. For example{' '}
                  <code>0 */6 * * *</code> runs every six hours on the hour, <code>30 2 * * 1-5</code> at 02:30 UTC on
                  weekdays.
                </>
              }
              error={cronError}
            >
              <input
                id="cron"
                type="text"
                class="mono"
                value={cron}
                spellcheck={false}
                aria-invalid={cronError ? true : undefined}
                aria-describedby="cron-help"
                onInput={(e) => setCron(e.currentTarget.value)}
              />
            </Field>
          )}
          <div class="step-actions">
            <button type="submit" class="btn btn-primary" disabled={busy}>
              Save schedule
            </button>
          </div>
        </form>
        <ErrorAlert error={generalError} />
        <Notice text={notice} />
      </section>
      {confirmDelete && (
        <ConfirmDialog
          title={`Delete the schedule of ${name}`}
          confirmLabel="Delete"
          danger
          busy={busy}
          error={error}
          onCancel={() => setConfirmDelete(false)}
          onConfirm={() =>
            void act(async () => {
              await api.delete<{ deleted: boolean }>(base);
              return 'Schedule deleted.';
            }).then((ok) => ok && setConfirmDelete(false))
          }
        >
          <p>{name} will no longer run on its own. Its tables and history stay.</p>
        </ConfirmDialog>
      )}
    </>
  );
}
