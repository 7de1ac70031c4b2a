import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { DiscoveredTable } from '../../api-types';
import { selectionProblem, type Selection } from '../selection';
import { ErrorAlert } from './alert';
import { TablePicker } from './table-picker';

/** What a step of the wizard is handed: whether to focus its heading, and Back and Next to its neighbours. */
export interface StepNav {
  focusHeading: boolean;
  onBack?: () => void;
  onNext?: () => void;
}

/**
 * The wizard's position, shared by New and Edit: the current step, `go` to another, and `nav(i)`, step i's
 * StepNav. A step's heading takes the focus once the user has moved (not on the page's first step as it opens).
 */
export function useWizard() {
  const [step, setStep] = useState(0);
  const moved = useRef(false);
  const go = (to: number) => {
    moved.current = true;
    setStep(to);
  };
  const nav = (i: number): StepNav => ({
    focusHeading: moved.current,
    onBack: i > 0 ? () => go(i - 1) : undefined,
    onNext: () => go(i + 1),
  });
  return { step, go, nav };
}

/**
 * The wizard's Save, shared by New and Edit: `onSave` runs `send`, Save shows busy meanwhile, and what `send`
 * throws is kept as `saveError` (shown under the table picker) and handed to `onError`, e.g. to go back to the
 * step that can fix it. The result is what {@link TablesStep} takes.
 */
export function useSave(send: () => Promise<void>, onError?: (err: unknown) => void) {
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const onSave = async () => {
    setSaving(true);
    setSaveError(null);
    try {
      await send();
    } catch (err) {
      setSaveError(err);
      onError?.(err);
    } finally {
      setSaving(false);
    }
  };
  return { onSave: () => void onSave(), saving, saveError };
}

/** The steps of the wizard, the current one marked for screen readers. */
export function Stepper({ steps, current }: { steps: string[]; current: number }) {
  return (
    <ol class="stepper" aria-label="Steps">
      {steps.map((label, i) => (
        <li
          key={label}
          class={i === current ? 'current' : i < current ? 'done' : ''}
          aria-current={i === current ? 'step' : undefined}
        >
          <span class="step-number" aria-hidden="true">
            {i < current ? '✓' : i + 1}
          </span>
          <span class="step-label">
            {label}
            {i < current && <span class="visually-hidden"> (done)</span>}
          </span>
        </li>
      ))}
    </ol>
  );
}

/**
 * One step: its heading (focused when the step was reached by Next or Back), its content, and Back / Next.
 * Next submits the step's form, so Enter in a field moves on too.
 */
export function Step(
  props: StepNav & {
    title: string;
    children: ComponentChildren;
    backLabel?: string;
    nextLabel?: string;
    nextDisabled?: boolean;
    busy?: boolean;
    footer?: ComponentChildren;
  },
) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (props.focusHeading) heading.current?.focus();
  }, []);
  return (
    <section class="step" aria-labelledby="step-heading">
      <h2 id="step-heading" ref={heading} tabIndex={-1}>
        {props.title}
      </h2>
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (!props.nextDisabled && !props.busy) props.onNext?.();
        }}
      >
        {props.children}
        {props.footer}
        <div class="step-actions">
          {props.onBack && (
            <button type="button" class="btn" onClick={props.onBack}>
              {props.backLabel ?? 'Back'}
            </button>
          )}
          {props.onNext && (
            <button
              type="submit"
              class="btn btn-primary"
              disabled={props.nextDisabled || props.busy}
              aria-busy={props.busy || undefined}
            >
              {props.busy ? `${props.nextLabel ?? 'Next'}…` : (props.nextLabel ?? 'Next')}
            </button>
          )}
        </div>
      </form>
    </section>
  );
}

/**
 * The last step of New and Edit: what the page says first (`children`), the table picker, and Save, held back with
 * the reason while the selection has a problem.
 */
export function TablesStep(
  props: StepNav & {
    tables: DiscoveredTable[];
    selection: Selection;
    onChange: (selection: Selection) => void;
    onSave: () => void;
    saving: boolean;
    saveError: unknown;
    children?: ComponentChildren;
  },
) {
  const { tables, selection, onChange, onSave, saving, saveError, children, ...nav } = props;
  const problem = selectionProblem(tables, selection);
  return (
    <Step
      title="Table Details"
      {...nav}
      onNext={onSave}
      nextLabel="Save"
      nextDisabled={problem !== null}
      busy={saving}
      footer={
        <>
          {problem && <p class="help error-text">{problem}</p>}
          <ErrorAlert error={saveError} />
        </>
      }
    >
      {children}
      <TablePicker tables={tables} selection={selection} onChange={onChange} />
    </Step>
  );
}
