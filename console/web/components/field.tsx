import type { ComponentChildren } from 'preact';
import { ErrorAlert } from './alert';

/**
 * A form field: its label, its control (`children`, which points `aria-describedby` at `helpId`, by default
 * `<id>-help`), the help under it, a live `status` line, and the field's own error when the form can have one.
 */
export function Field(props: {
  id: string;
  label: ComponentChildren;
  children: ComponentChildren;
  help?: ComponentChildren;
  helpId?: string;
  status?: ComponentChildren;
  /** Given (even null) for a field the server can name in an error: its alert region is always in the page. */
  error?: unknown;
}) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.help !== undefined && (
        <p id={props.helpId ?? `${props.id}-help`} class="help">
          {props.help}
        </p>
      )}
      {props.status}
      {props.error !== undefined && <ErrorAlert error={props.error} />}
    </div>
  );
}

/** A label and its control side by side, as in a toolbar. */
export function InlineField({ id, label, children }: { id: string; label: string; children: ComponentChildren }) {
  return (
    <div class="field-inline">
      <label for={id}>{label}</label>
      {children}
    </div>
  );
}

/** A toolbar's search box: it filters as the user types. */
export function SearchField(props: {
  id: string;
  label: string;
  value: string;
  onValue: (value: string) => void;
  placeholder?: string;
}) {
  return (
    <InlineField id={props.id} label={props.label}>
      <input
        id={props.id}
        type="search"
        placeholder={props.placeholder}
        value={props.value}
        onInput={(e) => props.onValue(e.currentTarget.value)}
      />
    </InlineField>
  );
}
