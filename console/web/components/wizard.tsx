import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

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
export function Step(props: {
  title: string;
  focusHeading: boolean;
  children: ComponentChildren;
  onBack?: () => void;
  backLabel?: string;
  onNext?: () => void;
  nextLabel?: string;
  nextDisabled?: boolean;
  busy?: boolean;
  footer?: ComponentChildren;
}) {
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
