import { Field } from './field';

/** Display Name and Description, shared by New and Edit. */
export function DetailsFields(props: {
  displayName: string;
  description: string;
  onDisplayName: (value: string) => void;
  onDescription: (value: string) => void;
}) {
  return (
    <>
      <Field
        id="display-name"
        label="Display Name"
        help="How the dataflow is shown in lists. Any words; defaults to its name."
      >
        <input
          id="display-name"
          type="text"
          value={props.displayName}
          maxLength={200}
          aria-describedby="display-name-help"
          onInput={(e) => props.onDisplayName(e.currentTarget.value)}
        />
      </Field>
      <Field id="description" label="Description">
        <textarea
          id="description"
          rows={3}
          value={props.description}
          maxLength={2000}
          onInput={(e) => props.onDescription(e.currentTarget.value)}
        />
      </Field>
    </>
  );
}
